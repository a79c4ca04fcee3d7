// "$(sync~spin) 2 runs" in the status bar while runs are going; click to show or cancel one.
import * as path from "path";
import * as vscode from "vscode";
import { Commands, StatusItems } from "../protocol";
import { RunController } from "./runController";
import { formatDuration } from "../explorer/runFormat";

export class RunningStatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem(StatusItems.RUNNING, vscode.StatusBarAlignment.Left, 9);
  private readonly subscription: vscode.Disposable;

  constructor(private readonly runs: RunController) {
    this.item.name = "ML Workbench runs";
    this.item.command = Commands.SHOW_RUNNING;
    this.subscription = runs.onDidChangeActive(() => this.update());
    this.update();
  }

  private update(): void {
    const count = this.runs.running.length;
    if (count === 0) {
      this.item.hide();
      return;
    }
    this.item.text = `$(sync~spin) ${count} run${count === 1 ? "" : "s"}`;
    this.item.tooltip = this.runs.running.map((r) => path.basename(r.script)).join(", ") + " — click to show or cancel";
    this.item.show();
  }

  dispose(): void {
    this.subscription.dispose();
    this.item.dispose();
  }
}

/** Pick a running run; `cancel` goes straight to cancelling it (the palette's Cancel Run). */
export async function showRunning(runs: RunController, mode: "show" | "cancel" = "show"): Promise<void> {
  const active = runs.running;
  if (active.length === 0) {
    void vscode.window.showInformationMessage("ML Workbench: no runs are going.");
    return;
  }
  const picked = await vscode.window.showQuickPick(
    active.map((r) => ({
      label: path.basename(r.script),
      description: `${formatDuration(Date.now() - r.startedAt)} · ${r.runId.slice(0, 8)}`,
      run: r,
    })),
    {
      title: mode === "cancel" ? "ML Workbench: cancel a run" : "ML Workbench: running",
      placeHolder: mode === "cancel" ? "Pick the run to cancel" : "Pick a run to show or cancel",
    },
  );
  if (!picked) {
    return;
  }
  if (mode === "cancel") {
    await runs.cancel(picked.run.runId);
    return;
  }
  const action = await vscode.window.showQuickPick(["Show output", "Cancel run"], { title: picked.label });
  if (action === "Show output") {
    picked.run.terminal.terminal.show();
  } else if (action === "Cancel run") {
    await runs.cancel(picked.run.runId);
  }
}
