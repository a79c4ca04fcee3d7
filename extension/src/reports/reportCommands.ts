// The Reports commands: Create Report… (a run's row in the Runs view, the palette, or the
// `Report…` lens on a training script, which means its latest run), Open Report (a report's row
// under its run), and the privacy commands (private synthetic data, a private query). Each
// gathers its inputs in reportWizard.ts, makes the report through reportJobs.ts and shows it in
// a ReportPanel; Export HTML and Open JSON reach the run's logged files through the server.
import * as path from "path";
import * as vscode from "vscode";
import { traceError } from "../common/log";
import { request, type WorkspaceClient, workspaceClient } from "../common/requests";
import type { ServerManager } from "../common/serverManager";
import { effectiveFilter, initialQuery } from "../explorer/runsQuery";
import type { RunsTreeProvider } from "../explorer/runsTree";
import { Commands, type CreateReportResult, type ReportDocument, Requests, type RunSummary } from "../protocol";
import { ensureTrusted } from "../scripts/trust";
import { ReportJobs, type ReportRequest } from "./reportJobs";
import { ReportPanel, type ReportPanelHost, type ReportSource } from "./reportPanel";
import { askPrivacyQuery, askPrivacySynth, askRunReport, type WizardRun } from "./reportWizard";
import { reportNameOf, RUN_REPORT_KINDS, type ReportSettings, settingsOptions } from "./reportWizardSteps";
import { pickEndedRun } from "../explorer/runPicker";

export function registerReportCommands(context: vscode.ExtensionContext, servers: ServerManager, tree: RunsTreeProvider): vscode.Disposable[] {
  const reports = new ReportCommands(context, servers, tree);
  let progress: vscode.Disposable | undefined;
  const on = (command: string, handler: (arg: unknown) => Promise<void>): vscode.Disposable =>
    vscode.commands.registerCommand(command, async (arg: unknown) => {
      try {
        await handler(arg);
      } catch (error) {
        traceError(`${command} failed`, error);
        void vscode.window.showErrorMessage(`ML Workbench: ${error instanceof Error ? error.message : String(error)}`);
      }
    });
  return [
    reports.jobs,
    servers.onReady((client) => {
      progress?.dispose();
      progress = reports.jobs.attach(client);
    }),
    {
      dispose: () => {
        progress?.dispose();
      },
    },
    on(Commands.CREATE_REPORT, (arg) => reports.createReport(arg)),
    on(Commands.OPEN_REPORT, (arg) => reports.openReport(arg)),
    on(Commands.PRIVACY_SYNTH, () => reports.privacy("synth")),
    on(Commands.PRIVACY_QUERY, () => reports.privacy("query")),
  ];
}

function readReportSettings(): ReportSettings {
  const config = vscode.workspace.getConfiguration("mlWorkbench");
  return {
    maxDataMb: config.get<number>("reports.maxDataMb", 512),
    privacyBudget: config.get<number>("privacy.budget", 10),
  };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A report's row in the Runs view, or the `{runId, name}` a command passes. */
function reportSourceOf(arg: unknown): (ReportSource & { runName?: string }) | undefined {
  if (!isRecord(arg)) {
    return undefined;
  }
  const run = isRecord(arg.run) ? (arg.run as Partial<RunSummary>) : undefined;
  const entry = isRecord(arg.entry) ? arg.entry : undefined;
  const runId = typeof arg.runId === "string" ? arg.runId : run?.run_id;
  const name = typeof arg.name === "string" ? arg.name : typeof entry?.name === "string" ? entry.name : undefined;
  const runName = typeof arg.runName === "string" ? arg.runName : run?.run_name;
  return runId && name ? { runId, name, runName } : undefined;
}

class ReportCommands {
  readonly jobs = new ReportJobs();

  constructor(
    private readonly context: vscode.ExtensionContext,
    private readonly servers: ServerManager,
    private readonly tree: RunsTreeProvider,
  ) {}

  private server(): WorkspaceClient {
    const target = workspaceClient(this.servers);
    if (!target) {
      throw new Error("the server is not running yet (see ML Workbench: Show Log)");
    }
    return target;
  }

  async createReport(arg: unknown): Promise<void> {
    if (!(await ensureTrusted("make a report (loading a model runs its code)"))) {
      return;
    }
    const target = this.server();
    const run = await this.runOf(target, arg);
    if (!run) {
      return;
    }
    const params = await askRunReport(target, this.context.workspaceState, run);
    if (!params) {
      return;
    }
    const label = RUN_REPORT_KINDS.find((choice) => choice.kind === params.kind)?.label.toLowerCase() ?? params.kind;
    const result = await this.make(target, params, `making the ${label} report of ${run.runName}`);
    if (result) {
      this.showResult(result, run.runName);
    }
  }

  async privacy(verb: "synth" | "query"): Promise<void> {
    if (!(await ensureTrusted(verb === "synth" ? "make private synthetic data" : "run a private query"))) {
      return;
    }
    const target = this.server();
    const state = this.context.workspaceState;
    const params = verb === "synth" ? await askPrivacySynth(target, state) : await askPrivacyQuery(target, state);
    if (!params) {
      return;
    }
    const what = verb === "synth" ? "making private synthetic data" : "answering the private query";
    const result = await this.make(target, params, `${what} from ${path.basename(params.data ?? "")}`);
    if (result) {
      this.showResult(result, undefined);
    }
  }

  openReport(arg: unknown): Promise<void> {
    const source = reportSourceOf(arg);
    if (!source) {
      void vscode.window.showInformationMessage("ML Workbench: open a report from its row under a run in the Runs view (Reports).");
      return Promise.resolve();
    }
    this.show(source, `${source.name}${source.runName ? `: ${source.runName}` : ""}`);
    return Promise.resolve();
  }

  private async make(target: WorkspaceClient, params: ReportRequest, title: string): Promise<CreateReportResult | undefined> {
    const options = { ...settingsOptions(params.kind, readReportSettings()), ...params.options };
    const result = await this.jobs.create(target, { ...params, options }, title);
    if (result?.runId) {
      // The report is a new artifact of its run (or, for privacy and mitigation, a new run).
      this.tree.refreshSoon(50);
    }
    return result;
  }

  private showResult(result: CreateReportResult, runName: string | undefined): void {
    const name = reportNameOf(result.artifactPath);
    const source: ReportSource =
      result.runId && name ? { runId: result.runId, name } : { runId: null, name: `${result.document.kind}-${Date.now()}` };
    this.show(source, runName ? `${result.document.title}: ${runName}` : result.document.title, result.document);
  }

  private show(source: ReportSource, title: string, document?: ReportDocument): void {
    ReportPanel.show(this.context.extensionUri, source, title, this.panelHost(document));
  }

  /** What a panel asks of the server; `made` is shown first (no round trip for a fresh report). */
  private panelHost(made: ReportDocument | undefined): ReportPanelHost {
    let first = made;
    return {
      load: async (source) => {
        const document = first;
        if (document !== undefined && source.runId !== null) {
          first = undefined; // later loads (Retry, made again) read the logged file
        }
        if (document !== undefined) {
          return document;
        }
        if (source.runId === null) {
          throw new Error("This report was not logged to a run, so it cannot be loaded again.");
        }
        const { client, workspaceUri } = this.server();
        return request(client, Requests.READ_REPORT, { workspaceUri, runId: source.runId, name: source.name });
      },
      exportHtml: (source, document) => this.exportHtml(source, document),
      openJson: (source, document) => this.openJson(source, document),
    };
  }

  /** Saves the self-contained HTML the backend logged beside the report's JSON. */
  private async exportHtml(source: ReportSource, document: ReportDocument): Promise<void> {
    if (source.runId === null) {
      void vscode.window.showWarningMessage("ML Workbench: this report was not logged to a run, so it has no HTML file to export.");
      return;
    }
    const { client, workspaceUri } = this.server();
    const resolved = await request(client, Requests.RESOLVE_ARTIFACT, { workspaceUri, runId: source.runId, path: `reports/${source.name}.html` });
    const folder = vscode.workspace.workspaceFolders?.[0]?.uri;
    const fileName = `${source.name}-${source.runId.slice(0, 8)}.html`;
    const target = await vscode.window.showSaveDialog({
      defaultUri: folder ? vscode.Uri.joinPath(folder, fileName) : undefined,
      filters: { HTML: ["html"] },
      saveLabel: "Export",
      title: `Export "${document.title}" as HTML`,
    });
    if (!target) {
      return;
    }
    await vscode.workspace.fs.copy(vscode.Uri.file(resolved.localPath), target, { overwrite: true });
    void vscode.window.showInformationMessage(`ML Workbench: saved the report as ${target.fsPath}.`);
  }

  private async openJson(source: ReportSource, document: ReportDocument): Promise<void> {
    if (source.runId !== null) {
      await vscode.commands.executeCommand(Commands.OPEN_ARTIFACT, { runId: source.runId, path: `reports/${source.name}.json` });
      return;
    }
    const text = await vscode.workspace.openTextDocument({ language: "json", content: `${JSON.stringify(document, null, 1)}\n` });
    await vscode.window.showTextDocument(text, { preview: true });
  }

  /** The run a report is about: the clicked row, `{runId}`, a script's latest run, or a pick. */
  private async runOf(target: WorkspaceClient, arg: unknown): Promise<WizardRun | undefined> {
    if (isRecord(arg)) {
      const run = isRecord(arg.run) ? (arg.run as Partial<RunSummary>) : undefined;
      if (run?.run_id) {
        return { runId: run.run_id, runName: run.run_name ?? run.run_id };
      }
      if (typeof arg.runId === "string") {
        return { runId: arg.runId, runName: typeof arg.runName === "string" ? arg.runName : arg.runId.slice(0, 8) };
      }
      if (typeof arg.script === "string") {
        return this.latestRunOf(target, arg.script);
      }
    }
    return this.pickRun(target, "", "Create a report on which run?");
  }

  /** The `Report…` lens: the script's latest finished run (the one whose model is newest). */
  private async latestRunOf(target: WorkspaceClient, script: string): Promise<WizardRun | undefined> {
    const scriptFilter = effectiveFilter({ ...initialQuery, script });
    const filter = `${scriptFilter} and attributes.status = 'FINISHED'`;
    const result = await request(target.client, Requests.QUERY_RUNS, {
      workspaceUri: target.workspaceUri,
      filter,
      orderBy: "attributes.start_time DESC",
      limit: 1,
    });
    const [run] = result.page.runs;
    if (run) {
      return { runId: run.run_id, runName: run.run_name };
    }
    const choice = await vscode.window.showInformationMessage(
      `ML Workbench: ${path.basename(script)} has no finished run yet, and a report needs the model a run logged.`,
      "Run It",
      "Pick Another Run",
    );
    if (choice === "Run It") {
      await vscode.commands.executeCommand(Commands.RUN_SCRIPT, vscode.Uri.file(script));
    } else if (choice === "Pick Another Run") {
      return this.pickRun(target, "", "Create a report on which run?");
    }
    return undefined;
  }

  private async pickRun(target: WorkspaceClient, filter: string, title: string): Promise<WizardRun | undefined> {
    const run = await pickEndedRun(target, { title, filter, emptyMessage: "there is no finished run to report on yet: run a training script first." });
    return run ? { runId: run.run_id, runName: run.run_name } : undefined;
  }

}
