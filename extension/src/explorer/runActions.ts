// What a user does to a run from the Runs view (context menu, inline buttons, palette): open
// its log or artifacts, rerun or debug it with its parameters, rename, note, tag, delete,
// restore, copy its id, compare. Edits go through the server (MLflow's client), never the store.
import * as path from "path";
import * as vscode from "vscode";
import { request, WorkspaceClient, workspaceClient } from "../common/requests";
import { ServerManager } from "../common/serverManager";
import { Commands, EditRunParams, Requests, RunDetails, RunSummary } from "../protocol";
import { analysisFor } from "../scripts/scriptCommands";
import { ensureTrusted } from "../scripts/trust";
import { debugScript } from "../launch/debugRun";
import { argumentsPrompt, decisionOf, needsArgumentsConfirmation, RerunMode } from "./rerunConfirm";
import { RunController } from "../launch/runController";
import { noteUri } from "../notes/runNotes";
import { askRunArguments } from "../launch/runWithForm";
import { parseTagInput } from "./runsQuery";
import { RunsNode, RunsTreeProvider } from "./runsTree";

/** A run id from whatever a command was invoked with: a tree node, `{runId}`, or nothing. */
export function runIdOf(arg: unknown): string | undefined {
  const node = arg as Partial<{ kind: string; run: RunSummary; runId: string }> | undefined;
  return node?.run?.run_id ?? (typeof node?.runId === "string" ? node.runId : undefined);
}

export class RunActions {
  constructor(
    private readonly context: vscode.ExtensionContext,
    private readonly servers: ServerManager,
    private readonly runs: RunController,
    private readonly tree: RunsTreeProvider,
  ) {}

  register(): vscode.Disposable[] {
    const on = (command: string, handler: (arg: unknown, all?: unknown[]) => Promise<void>): vscode.Disposable =>
      vscode.commands.registerCommand(command, async (arg: unknown, all?: unknown[]) => {
        try {
          await handler(arg, all);
        } catch (error) {
          void vscode.window.showErrorMessage(`ML Workbench: ${error instanceof Error ? error.message : String(error)}`);
        }
      });
    return [
      on(Commands.OPEN_RUN_LOG, (arg) => this.openLog(arg)),
      on(Commands.OPEN_ARTIFACT, (arg) => this.openArtifact(arg)),
      on(Commands.RERUN, (arg) => this.rerun(arg, false)),
      on(Commands.RERUN_WITH, (arg) => this.rerun(arg, true)),
      on(Commands.DEBUG_RUN, (arg) => this.debug(arg)),
      on(Commands.RENAME_RUN, (arg) => this.rename(arg)),
      on(Commands.NOTE_RUN, (arg) => this.note(arg)),
      on(Commands.TAG_RUN, (arg) => this.tag(arg)),
      on(Commands.REMOVE_TAG, (arg) => this.removeTag(arg)),
      on(Commands.DELETE_RUN, (arg, all) => this.delete(arg, all)),
      on(Commands.RESTORE_RUN, (arg, all) => this.restore(arg, all)),
      on(Commands.COPY_RUN_ID, (arg) => this.copyId(arg)),
    ];
  }

  /** The run a command is about: the clicked node, else a pick among the loaded runs. */
  async pickRun(arg: unknown, purpose: string): Promise<string | undefined> {
    const id = runIdOf(arg);
    if (id) {
      return id;
    }
    const runs = this.tree.loadedRuns();
    if (runs.length === 0) {
      void vscode.window.showInformationMessage("ML Workbench: no runs loaded; open the Runs view first.");
      return undefined;
    }
    const picked = await vscode.window.showQuickPick(
      runs.map((run) => ({ label: run.run_name, description: `${run.status} · ${run.run_id.slice(0, 8)}`, runId: run.run_id })),
      { title: purpose, matchOnDescription: true },
    );
    return picked?.runId;
  }

  private server(): WorkspaceClient {
    const target = workspaceClient(this.servers);
    if (!target) {
      throw new Error("the server is not running yet (see ML Workbench: Show Log)");
    }
    return target;
  }

  async details(runId: string): Promise<RunDetails> {
    const { client, workspaceUri } = this.server();
    return request(client, Requests.RUN_DETAILS, { workspaceUri, runId });
  }

  private async edit(runId: string, action: string, extra: Pick<EditRunParams, "key" | "value"> = {}): Promise<RunDetails> {
    const { client, workspaceUri } = this.server();
    const updated = await request(client, Requests.EDIT_RUN, { workspaceUri, runId, action, ...extra });
    this.tree.refreshSoon(50);
    return updated;
  }

  private async openLog(arg: unknown): Promise<void> {
    const runId = await this.pickRun(arg, "Open the log of which run?");
    if (!runId) {
      return;
    }
    const details = await this.details(runId);
    if (!details.log_artifact) {
      void vscode.window.showInformationMessage(`ML Workbench: run ${details.run_name} has no saved output log (it was not started by ML Workbench).`);
      return;
    }
    await this.openArtifact({ runId, path: details.log_artifact });
  }

  private async openArtifact(arg: unknown): Promise<void> {
    const target = arg as { runId?: string; path?: string; model?: string } | undefined;
    let runId = target?.runId ?? runIdOf(arg);
    let artifactPath = target?.path;
    if (!runId) {
      runId = await this.pickRun(arg, "Open an artifact of which run?");
    }
    if (!runId) {
      return;
    }
    if (typeof target?.model === "string") {
      // A model the run logged (maybe outside its artifacts, as MLflow 3 keeps them): its MLmodel.
      const { client, workspaceUri } = this.server();
      const resolved = await request(client, Requests.RESOLVE_ARTIFACT, { workspaceUri, runId, model: target.model });
      await this.showReadOnly(vscode.Uri.file(resolved.localPath), resolved.kind);
      return;
    }
    if (!artifactPath) {
      artifactPath = await vscode.window.showInputBox({
        title: "Artifact path",
        prompt: "A path inside the run's artifacts, e.g. model/MLmodel",
        ignoreFocusOut: true,
      });
    }
    if (!artifactPath) {
      return;
    }
    const { client, workspaceUri } = this.server();
    const resolved = await request(client, Requests.RESOLVE_ARTIFACT, { workspaceUri, runId, path: artifactPath });
    const uri = vscode.Uri.file(resolved.localPath);
    switch (resolved.kind) {
      case "text":
      case "csv":
      case "model":
        await this.showReadOnly(uri, resolved.kind);
        return;
      case "image":
        await vscode.commands.executeCommand("vscode.open", uri);
        return;
      case "directory":
        await vscode.commands.executeCommand("revealFileInOS", uri);
        return;
      default: {
        const choice = await vscode.window.showInformationMessage(
          `ML Workbench: ${path.basename(artifactPath)} is a binary file.`,
          "Open Anyway",
          "Copy Path",
        );
        if (choice === "Open Anyway") {
          await vscode.commands.executeCommand("vscode.open", uri);
        } else if (choice === "Copy Path") {
          await vscode.env.clipboard.writeText(resolved.localPath);
        }
      }
    }
  }

  /** Artifacts are records of a run: shown in the editor, never edited in place by accident. */
  private async showReadOnly(uri: vscode.Uri, kind?: string): Promise<void> {
    let document = await vscode.workspace.openTextDocument(uri);
    if (kind === "model" && document.languageId === "plaintext") {
      document = await vscode.languages.setTextDocumentLanguage(document, "yaml"); // MLmodel is YAML
    }
    await vscode.window.showTextDocument(document, { preview: true });
    await vscode.commands.executeCommand("workbench.action.files.setActiveEditorReadonlyInSession");
  }

  /** The script a run came from, if it still exists on disk. */
  private async scriptOf(details: RunDetails): Promise<vscode.Uri | undefined> {
    if (!details.script) {
      void vscode.window.showWarningMessage(`ML Workbench: run ${details.run_name} has no script recorded, so it cannot be rerun.`);
      return undefined;
    }
    const uri = vscode.Uri.file(details.script);
    try {
      await vscode.workspace.fs.stat(uri);
    } catch {
      void vscode.window.showErrorMessage(`ML Workbench: the script of run ${details.run_name} is gone: ${details.script}`);
      return undefined;
    }
    return uri;
  }

  private async rerun(arg: unknown, ask: boolean): Promise<void> {
    const runId = await this.pickRun(arg, ask ? "Rerun which run with changed parameters?" : "Rerun which run?");
    if (!runId || !(await ensureTrusted("rerun this run"))) {
      return;
    }
    const details = await this.details(runId);
    const script = await this.scriptOf(details);
    if (!script) {
      return;
    }
    // Rerun with… shows every value in its form; the plain rerun asks before using the run's arguments.
    const args = ask ? await this.editArguments(script, details) : await this.confirmArguments("rerun", script, details);
    if (args) {
      await this.runs.start(script, args);
    }
  }

  private async debug(arg: unknown): Promise<void> {
    const runId = await this.pickRun(arg, "Debug which run?");
    if (!runId || !(await ensureTrusted("debug this run"))) {
      return;
    }
    const details = await this.details(runId);
    const script = await this.scriptOf(details);
    if (!script) {
      return;
    }
    const args = await this.confirmArguments("debug", script, details);
    if (args) {
      await debugScript(this.servers, script, args);
    }
  }

  /**
   * The run's recorded arguments once the user has seen them (rerunConfirm.ts says why), or the
   * ones they chose in the Rerun with… form instead; `undefined` when they cancelled.
   */
  private async confirmArguments(mode: RerunMode, script: vscode.Uri, details: RunDetails): Promise<string[] | undefined> {
    const args = details.args ?? [];
    if (!needsArgumentsConfirmation(args)) {
      return args;
    }
    const prompt = argumentsPrompt(mode, vscode.workspace.asRelativePath(script, false), details.run_name, args);
    const choice = await vscode.window.showWarningMessage(prompt.message, { modal: true, detail: prompt.detail }, prompt.confirm, prompt.edit);
    switch (decisionOf(prompt, choice)) {
      case "run":
        return args;
      case "edit":
        return this.editArguments(script, details);
      case "cancel":
        return undefined;
    }
  }

  /** The Rerun with… form, prefilled with the run's parameters. */
  private async editArguments(script: vscode.Uri, details: RunDetails): Promise<string[] | undefined> {
    const analysis = await analysisFor(this.servers, script);
    if (!analysis) {
      return undefined;
    }
    const initial = Object.fromEntries(
      analysis.parameters.filter((p) => details.params[p.name] !== undefined).map((p) => [p.name, details.params[p.name]]),
    );
    return askRunArguments(this.context.workspaceState, script, analysis.parameters, initial);
  }

  private async rename(arg: unknown): Promise<void> {
    const runId = await this.pickRun(arg, "Rename which run?");
    if (!runId || !(await ensureTrusted("rename runs"))) {
      return;
    }
    const details = await this.details(runId);
    const name = await vscode.window.showInputBox({
      title: "Rename run",
      value: details.run_name,
      valueSelection: [0, details.run_name.length],
      validateInput: (v) => (v.trim() ? (v.length > 250 ? "At most 250 characters" : undefined) : "A run name cannot be empty"),
    });
    if (name !== undefined && name.trim() !== details.run_name) {
      await this.edit(runId, "rename", { value: name.trim() });
    }
  }

  /** Sets the run's note (RunNotesFileSystem saves through this). Empty text removes it. */
  async setNote(runId: string, text: string): Promise<RunDetails> {
    return this.edit(runId, "note", { value: text });
  }

  /** Opens the run's note as a Markdown document; saving it writes the note (runNotes.ts). */
  private async note(arg: unknown): Promise<void> {
    const runId = await this.pickRun(arg, "Edit the note of which run?");
    if (!runId || !(await ensureTrusted("edit run notes"))) {
      return;
    }
    const details = await this.details(runId);
    const document = await vscode.workspace.openTextDocument(noteUri(runId, details.run_name));
    await vscode.window.showTextDocument(document, { preview: false });
    vscode.window.setStatusBarMessage(`Save writes the note to run ${details.run_name}; an empty note removes it.`, 8000);
  }

  private async tag(arg: unknown): Promise<void> {
    const runId = await this.pickRun(arg, "Tag which run?");
    if (!runId || !(await ensureTrusted("tag runs"))) {
      return;
    }
    const text = await vscode.window.showInputBox({
      title: "Add tag",
      prompt: "key=value",
      placeHolder: "stage=baseline",
      validateInput: (v) => {
        const parsed = parseTagInput(v);
        return typeof parsed === "string" ? parsed : undefined;
      },
    });
    const parsed = text === undefined ? undefined : parseTagInput(text);
    if (parsed && typeof parsed !== "string") {
      await this.edit(runId, "setTag", { key: parsed.key, value: parsed.value });
    }
  }

  private async removeTag(arg: unknown): Promise<void> {
    const node = arg as RunsNode | undefined;
    if (node?.kind !== "value" || node.tagKey === undefined || !(await ensureTrusted("edit tags"))) {
      return;
    }
    await this.edit(node.run.run_id, "removeTag", { key: node.tagKey });
  }

  /** The runs a command applies to: the multi-selection, the clicked node, or the selection (keyboard). */
  private selected(arg: unknown, all: unknown[] | undefined): string[] {
    // The Delete key binding passes `{ fromKeyboard: true }`: then the view's selection counts.
    const fromKeyboard = (arg as { fromKeyboard?: unknown } | undefined)?.fromKeyboard === true;
    const nodes: readonly unknown[] = all && all.length > 0 ? all : fromKeyboard ? (this.tree.view?.selection ?? []) : [arg];
    const ids = nodes.map(runIdOf).filter((id): id is string => id !== undefined);
    return [...new Set(ids)];
  }

  private async delete(arg: unknown, all: unknown[] | undefined): Promise<void> {
    let ids = this.selected(arg, all);
    if (ids.length === 0) {
      const one = await this.pickRun(undefined, "Delete which run?");
      ids = one ? [one] : [];
    }
    if (ids.length === 0 || !(await ensureTrusted("delete runs"))) {
      return;
    }
    const names = this.tree.loadedRuns().filter((r) => ids.includes(r.run_id)).map((r) => r.run_name);
    const what = ids.length === 1 ? `run "${names[0] ?? ids[0]}"` : `${ids.length} runs`;
    const choice = await vscode.window.showWarningMessage(
      `Delete ${what}?`,
      { modal: true, detail: "MLflow keeps deleted runs until they are garbage-collected: Show Deleted Runs → Restore brings them back." },
      "Delete",
    );
    if (choice !== "Delete") {
      return;
    }
    for (const id of ids) {
      await this.edit(id, "delete");
    }
    void vscode.window.showInformationMessage(`ML Workbench: deleted ${what}.`, "Show Deleted Runs").then((c) => {
      if (c) {
        void vscode.commands.executeCommand(Commands.SHOW_DELETED_RUNS);
      }
    });
  }

  private async restore(arg: unknown, all: unknown[] | undefined): Promise<void> {
    const ids = this.selected(arg, all);
    if (ids.length === 0 || !(await ensureTrusted("restore runs"))) {
      return;
    }
    for (const id of ids) {
      await this.edit(id, "restore");
    }
  }

  private async copyId(arg: unknown): Promise<void> {
    const runId = await this.pickRun(arg, "Copy the id of which run?");
    if (runId) {
      await vscode.env.clipboard.writeText(runId);
      vscode.window.setStatusBarMessage(`Copied run id ${runId}`, 3000);
    }
  }
}
