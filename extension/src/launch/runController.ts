// Starts tracked runs through the server and follows them: a terminal per run, notifications
// when they end, cancellation from anywhere (terminal, status bar, tree, palette).
import * as path from "path";
import * as vscode from "vscode";
import { request } from "../common/requests";
import { ServerManager } from "../common/serverManager";
import { traceError, traceInfo } from "../common/log";
import {
  Commands,
  MetricPointPayload,
  Requests,
  RunStatusParams,
  StartRunParams,
  StartRunResult,
} from "../protocol";
import { readSettings } from "../common/settings";
import { LiveMetricsPanel } from "./liveMetricsPanel";
import { ensureTrusted } from "../scripts/trust";
import { RunEvents } from "./runEvents";
import { formatNumber } from "../explorer/runFormat";
import { describeArgs } from "./runParameters";
import { RunTerminal } from "./runTerminal";

export interface ActiveRun {
  runId: string;
  script: string;
  args: string[];
  terminal: RunTerminal;
  startedAt: number;
  /** Every point so far, so a closed live-metrics panel can be reopened with its history. */
  metrics: MetricPointPayload[];
}

interface EarlyEvents {
  output: string[];
  metrics: MetricPointPayload[];
  status?: RunStatusParams;
}

export class RunController implements vscode.Disposable {
  private readonly active = new Map<string, ActiveRun>();
  // Output and endings can overtake the startRun response for a short script; keep them until
  // the run's terminal exists.
  private readonly early = new Map<string, EarlyEvents>();
  private readonly changed = new vscode.EventEmitter<void>();
  /** Fires when a run starts or ends (status bar, tree). */
  readonly onDidChangeActive = this.changed.event;
  private readonly disposables: vscode.Disposable[] = [];

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly servers: ServerManager,
    events: RunEvents,
  ) {
    this.disposables.push(
      events.onMetrics((p) => {
        const run = this.active.get(p.runId);
        if (run) {
          run.metrics.push(...p.points);
        } else {
          this.earlyFor(p.runId).metrics.push(...p.points);
        }
        LiveMetricsPanel.get(p.runId)?.addPoints(p.points);
      }),
      events.onOutput((p) => {
        const run = this.active.get(p.runId);
        if (run) {
          run.terminal.write(p.text);
        } else {
          this.earlyFor(p.runId).output.push(p.text);
        }
      }),
      events.onStatus((p) => {
        if (p.status !== "RUNNING" && !this.active.has(p.runId)) {
          this.earlyFor(p.runId).status = p;
        }
        this.onStatus(p);
      }),
    );
  }

  get running(): ActiveRun[] {
    return [...this.active.values()];
  }

  /** Starts a tracked run here, or on a Ray `target` (Run on…) through the same path. */
  async start(uri: vscode.Uri, args: string[], target?: { name: string; address: string }): Promise<string | undefined> {
    if (!(await ensureTrusted("run this script"))) {
      return undefined;
    }
    const client = this.servers.languageClient;
    if (!client) {
      void vscode.window.showErrorMessage("ML Workbench: the server is not running; see the log.", "Show Log").then(
        (c) => c && vscode.commands.executeCommand(Commands.SHOW_LOG),
      );
      return undefined;
    }
    const document = vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri.toString());
    if (document?.isDirty) {
      await document.save();
    }
    const folder = vscode.workspace.getWorkspaceFolder(uri);
    if (!folder) {
      void vscode.window.showErrorMessage(
        `ML Workbench: ${path.basename(uri.fsPath)} is outside the workspace; runs are tracked per workspace folder.`,
      );
      return undefined;
    }
    const params: StartRunParams = { uri: uri.toString(), workspaceUri: folder.uri.toString(), args };
    if (target) {
      params.targetAddress = target.address;
      params.targetName = target.name;
    }
    let started: StartRunResult;
    try {
      started = await vscode.window.withProgress(
        {
          location: target ? vscode.ProgressLocation.Notification : vscode.ProgressLocation.Window,
          title: target ? `Submitting ${path.basename(uri.fsPath)} to ${target.name}…` : `Starting ${path.basename(uri.fsPath)}…`,
        },
        () => request(client, Requests.START_RUN, params),
      );
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      traceError(`Could not start ${uri.fsPath}`, error);
      void vscode.window.showErrorMessage(`ML Workbench: could not start the run: ${message}`, "Show Log").then(
        (c) => c && vscode.commands.executeCommand(Commands.SHOW_LOG),
      );
      return undefined;
    }
    const name = `ML Workbench: ${path.basename(uri.fsPath)}${target ? ` on ${target.name}` : ""}`;
    const where = target ? `Ray job ${started.jobId ?? "?"} on ${target.name}` : `pid ${started.pid}`;
    const header = `run ${started.runId} · ${where} · ${describeArgs(args)} · Ctrl+C cancels`;
    const terminal = new RunTerminal(name, header, () => void this.cancel(started.runId));
    terminal.terminal.show(true);
    const early = this.early.get(started.runId);
    this.early.delete(started.runId);
    const run: ActiveRun = {
      runId: started.runId,
      script: uri.fsPath,
      args,
      terminal,
      startedAt: Date.now(),
      metrics: early?.metrics ?? [],
    };
    this.active.set(started.runId, run);
    traceInfo(`Run ${started.runId} started: ${uri.fsPath} ${args.join(" ")}`);
    this.changed.fire();
    if (readSettings(uri).showLiveMetrics) {
      this.showLiveMetrics(started.runId);
    }
    for (const text of early?.output ?? []) {
      terminal.write(text);
    }
    if (early?.status) {
      this.onStatus(early.status);
    }
    return started.runId;
  }

  private earlyFor(runId: string): EarlyEvents {
    let entry = this.early.get(runId);
    if (!entry) {
      if (this.early.size > 20) {
        // Runs started elsewhere (another window) are not ours to show; forget the oldest.
        this.early.delete(this.early.keys().next().value as string);
      }
      entry = { output: [], metrics: [] };
      this.early.set(runId, entry);
    }
    return entry;
  }

  /** Open (or reveal) a running run's live chart, replaying what it logged so far. */
  showLiveMetrics(runId: string): boolean {
    const run = this.active.get(runId);
    if (!run) {
      return false;
    }
    const existing = LiveMetricsPanel.get(runId);
    const panel = existing ?? LiveMetricsPanel.createOrShow(this.extensionUri, runId, path.basename(run.script));
    if (!existing) {
      panel.addPoints(run.metrics);
      panel.setStatus("RUNNING", describeArgs(run.args));
    }
    return true;
  }

  async cancel(runId: string): Promise<void> {
    const client = this.servers.languageClient;
    if (!client) {
      return;
    }
    try {
      await request(client, Requests.CANCEL_RUN, { runId });
    } catch (error) {
      void vscode.window.showWarningMessage(`ML Workbench: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  private onStatus(p: RunStatusParams): void {
    if (p.status === "RUNNING") {
      return;
    }
    const run = this.active.get(p.runId);
    if (!run) {
      return;
    }
    this.active.delete(p.runId);
    traceInfo(`Run ${p.runId} ended ${p.status}${p.error ? `: ${p.error}` : ""}`);
    LiveMetricsPanel.get(p.runId)?.setStatus(asRunStatus(p.status), p.error);
    const result = p.result as { exit_code?: number | null; error_tail?: string | null; metrics?: Record<string, number> } | undefined;
    const file = path.basename(run.script);
    const key = p.primaryMetric;
    const value = key !== undefined ? result?.metrics?.[key] : undefined;
    const metricText = key !== undefined && value !== undefined ? ` — ${key} ${formatNumber(value)}` : "";
    run.terminal.end(p.status, p.status === "FAILED" ? `exit code ${result?.exit_code ?? "?"}` : "");
    this.changed.fire();
    if (p.status === "FINISHED") {
      void vscode.window.showInformationMessage(`ML Workbench: ${file} finished${metricText}.`, "Show Output").then((c) => {
        if (c) {
          run.terminal.terminal.show();
        }
      });
    } else if (p.status === "KILLED") {
      void vscode.window.showWarningMessage(`ML Workbench: ${file} was cancelled.`);
    } else {
      const tail = (result?.error_tail ?? p.error ?? "").trim().split(/\r?\n/).pop() ?? "";
      void vscode.window
        .showErrorMessage(`ML Workbench: ${file} failed (exit code ${result?.exit_code ?? "?"})${tail ? `: ${tail}` : ""}`, "Show Output")
        .then((c) => {
          if (c) {
            run.terminal.terminal.show();
          }
        });
    }
  }

  dispose(): void {
    for (const d of this.disposables) {
      d.dispose();
    }
    this.changed.dispose();
  }
}

function asRunStatus(status: string): "RUNNING" | "FINISHED" | "FAILED" | "KILLED" {
  return status === "FINISHED" || status === "KILLED" || status === "RUNNING" ? status : "FAILED";
}
