// Sweep… (code lens, editor menus, palette): pick the script's declared parameters to sweep,
// type their values, the trials at once and an optional metric, then run `mlworkbench sweep`
// through the server's startSweep with a cancellable progress notification that follows each
// trial (sweepProgress), the same lines in the "ML Workbench: Sweeps" output channel, and at
// the end the best trial with Compare Trials. The decisions live in sweepForm.ts and
// sweepSummary.ts; this file asks and shows.
import { randomUUID } from "crypto";
import * as os from "os";
import * as path from "path";
import * as vscode from "vscode";
import type { LanguageClient } from "vscode-languageclient/node";
import { traceError } from "../common/log";
import { request, type WorkspaceClient } from "../common/requests";
import type { ServerManager } from "../common/serverManager";
import { effectiveFilter, initialQuery } from "../explorer/runsQuery";
import type { RunsTreeProvider } from "../explorer/runsTree";
import { Commands, Notifications, Requests, type ScriptParameter, type StartSweepResult, type SweepProgressParams } from "../protocol";
import { analysisFor, targetUri } from "../scripts/scriptCommands";
import { ensureTrusted } from "../scripts/trust";
import {
  defaultMaxConcurrent,
  describeParameter,
  gridSize,
  guessMode,
  initialValues,
  metricNames,
  parseMaxConcurrent,
  parseValues,
  type SweepChoices,
  sweepRequest,
  type SweepRequest,
} from "./sweepForm";
import { type TargetChoice, targetChoices } from "./computeItems";
import { computeTargetSettings } from "./computeView";
import { failureOutput, isSweepCancellation, sweepFailure, sweepSummary, trialLines } from "./sweepSummary";

/** Runs of the script read for the metric picker. */
const METRIC_RUNS = 50;

export function registerSweepCommands(servers: ServerManager, tree: RunsTreeProvider): vscode.Disposable[] {
  const sweeps = new SweepCommands(servers, tree);
  let progress: vscode.Disposable | undefined;
  return [
    sweeps,
    servers.onReady((client) => {
      progress?.dispose();
      progress = sweeps.attach(client);
    }),
    {
      dispose: () => {
        progress?.dispose();
      },
    },
    vscode.commands.registerCommand(Commands.SWEEP_SCRIPT, async (arg: unknown) => {
      try {
        await sweeps.sweepScript(arg);
      } catch (error) {
        traceError(`${Commands.SWEEP_SCRIPT} failed`, error);
        void vscode.window.showErrorMessage(`ML Workbench: ${error instanceof Error ? error.message : String(error)}`);
      }
    }),
  ];
}

class SweepCommands implements vscode.Disposable {
  private readonly listeners = new Map<string, (message: string) => void>();
  private channel: vscode.OutputChannel | undefined;

  constructor(
    private readonly servers: ServerManager,
    private readonly tree: RunsTreeProvider,
  ) {}

  attach(client: LanguageClient): vscode.Disposable {
    return client.onNotification(Notifications.SWEEP_PROGRESS, (params: SweepProgressParams) => {
      if (typeof params?.jobId === "string" && typeof params.message === "string") {
        this.listeners.get(params.jobId)?.(params.message);
      }
    });
  }

  private get output(): vscode.OutputChannel {
    this.channel ??= vscode.window.createOutputChannel("ML Workbench: Sweeps");
    return this.channel;
  }

  async sweepScript(arg: unknown): Promise<void> {
    const uri = targetUri(arg);
    if (!uri || uri.scheme !== "file") {
      void vscode.window.showErrorMessage("ML Workbench: open a Python training script (a file on disk) to sweep its parameters.");
      return;
    }
    if (!(await ensureTrusted("run a sweep"))) {
      return;
    }
    const analysis = await analysisFor(this.servers, uri);
    if (!analysis) {
      return;
    }
    const name = path.basename(uri.fsPath);
    if (analysis.syntax_error) {
      void vscode.window.showErrorMessage(`ML Workbench: ${name} has a syntax error on line ${analysis.syntax_error.line + 1}: ${analysis.syntax_error.message}`);
      return;
    }
    if (analysis.parameters.length === 0) {
      void vscode.window.showInformationMessage(`ML Workbench: ${name} declares no argparse or click parameters to sweep.`);
      return;
    }
    const target = this.target(uri);
    if (!target) {
      void vscode.window.showErrorMessage("ML Workbench: the server is not running (see Show Log).");
      return;
    }
    const asked = await this.ask(target, uri, name, analysis.parameters);
    const where = asked ? await this.askWhere(target, name) : undefined;
    const choices = asked && where !== undefined ? { ...asked, ...(where ? { targetAddress: where } : {}) } : undefined;
    if (choices) {
      await this.run(target, uri, name, sweepRequest(choices), gridSize(choices.swept));
    }
  }

  /** The script's own workspace folder (a multi-root workspace has several). */
  private target(uri: vscode.Uri): WorkspaceClient | undefined {
    const client = this.servers.languageClient;
    const folder = vscode.workspace.getWorkspaceFolder(uri) ?? vscode.workspace.workspaceFolders?.[0];
    return client && folder ? { client, workspaceUri: folder.uri.toString() } : undefined;
  }

  private async ask(target: WorkspaceClient, uri: vscode.Uri, name: string, parameters: ScriptParameter[]): Promise<SweepChoices | undefined> {
    const picked = await vscode.window.showQuickPick(
      parameters.map((parameter) => ({ label: parameter.name, description: describeParameter(parameter), detail: parameter.help ?? undefined, parameter })),
      { title: `Sweep ${name}: parameters to vary`, canPickMany: true, matchOnDescription: true, ignoreFocusOut: true },
    );
    if (!picked || picked.length === 0) {
      return undefined;
    }
    const swept: SweepChoices["swept"] = [];
    for (const [step, { parameter }] of picked.entries()) {
      const text = await vscode.window.showInputBox({
        title: `Sweep ${name}: values of ${parameter.name} (${step + 1}/${picked.length})`,
        prompt: `Comma-separated values to try (${describeParameter(parameter)})`,
        value: initialValues(parameter),
        ignoreFocusOut: true,
        validateInput: (value) => {
          const parsed = parseValues(value, parameter);
          return parsed.ok ? undefined : parsed.error;
        },
      });
      const parsed = text === undefined ? undefined : parseValues(text, parameter);
      if (!parsed?.ok) {
        return undefined;
      }
      swept.push({ name: parameter.name, values: parsed.value });
    }
    const cpus = os.cpus().length;
    const concurrent = await vscode.window.showInputBox({
      title: `Sweep ${name}: ${gridSize(swept)} trials; how many at once?`,
      prompt: `Trials running at the same time (1 to ${Math.max(1, cpus)})`,
      value: String(defaultMaxConcurrent(cpus)),
      ignoreFocusOut: true,
      validateInput: (value) => {
        const parsed = parseMaxConcurrent(value, cpus);
        return parsed.ok ? undefined : parsed.error;
      },
    });
    const maxConcurrent = concurrent === undefined ? undefined : parseMaxConcurrent(concurrent, cpus);
    if (!maxConcurrent?.ok) {
      return undefined;
    }
    const metric = await this.askMetric(target, uri, name);
    if (metric === undefined) {
      return undefined;
    }
    if (metric === "") {
      return { swept, maxConcurrent: maxConcurrent.value };
    }
    const first = guessMode(metric);
    const modes = first === "max" ? (["max", "min"] as const) : (["min", "max"] as const);
    const mode = await vscode.window.showQuickPick(
      modes.map((value) => ({ label: value === "max" ? "Highest is best" : "Lowest is best", description: value, value })),
      { title: `Sweep ${name}: which ${metric} is best?`, ignoreFocusOut: true },
    );
    return mode ? { swept, maxConcurrent: maxConcurrent.value, metric, mode: mode.value } : undefined;
  }

  /** Where the trials run: "" for this machine, a Ray cluster's address, undefined when the user
   * backed out. Asked only when a Ray cluster is reachable (the Compute view's targets). */
  private async askWhere(target: WorkspaceClient, name: string): Promise<string | undefined> {
    let rays: TargetChoice[] = [];
    try {
      const listing = await request(target.client, Requests.LIST_COMPUTE_TARGETS, {
        workspaceUri: target.workspaceUri,
        targets: computeTargetSettings().targets,
      });
      rays = targetChoices(listing.targets).choices.filter((choice) => choice.target !== undefined);
    } catch (error) {
      traceError("Sweep: could not list the compute targets; the trials run here", error);
    }
    if (rays.length === 0) {
      return "";
    }
    const picked = await vscode.window.showQuickPick(
      [
        { label: "$(vm) Local", description: "this machine's process pool", address: "" },
        ...rays.map((choice) => ({ label: choice.label, description: choice.description, detail: choice.detail, address: choice.target?.address ?? "" })),
      ],
      { title: `Sweep ${name}: where the trials run`, ignoreFocusOut: true },
    );
    return picked?.address;
  }

  /** The metric that picks the best trial: "" for none, undefined when the user backed out. */
  private async askMetric(target: WorkspaceClient, uri: vscode.Uri, name: string): Promise<string | undefined> {
    let known: string[] = [];
    try {
      const result = await request(target.client, Requests.QUERY_RUNS, {
        workspaceUri: target.workspaceUri,
        filter: effectiveFilter({ ...initialQuery, script: uri.fsPath }),
        orderBy: "attributes.start_time DESC",
        limit: METRIC_RUNS,
      });
      known = metricNames(result.page.runs);
    } catch (error) {
      traceError("Sweep: could not read the script's runs for their metrics", error); // typed below
    }
    const title = `Sweep ${name}: the metric that picks the best trial`;
    if (known.length > 0) {
      const none = { label: "$(circle-slash) No metric", description: "run the trials without picking a best one", metric: "" };
      const picked = await vscode.window.showQuickPick([...known.map((metric) => ({ label: metric, metric })), none], {
        title,
        placeHolder: "Metrics the script's runs logged",
        ignoreFocusOut: true,
      });
      return picked?.metric;
    }
    const typed = await vscode.window.showInputBox({
      title,
      prompt: "A metric the script logs (e.g. accuracy); leave empty for none",
      ignoreFocusOut: true,
      validateInput: (value) => (/[\r\n\0]/.test(value) ? "One line, please." : undefined),
    });
    return typed?.trim();
  }

  private async run(target: WorkspaceClient, uri: vscode.Uri, name: string, params: SweepRequest, trials: number): Promise<void> {
    const jobId = randomUUID();
    const output = this.output;
    output.appendLine(`--- ${new Date().toISOString()} sweep of ${uri.fsPath}: ${trials} trials, ${params.maxConcurrent ?? 1} at a time`);
    let result: StartSweepResult | undefined;
    try {
      result = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: `ML Workbench: sweeping ${name}`, cancellable: true },
        async (progress, token) => {
          this.listeners.set(jobId, (message) => {
            output.appendLine(message);
            progress.report({ message });
          });
          const cancel = token.onCancellationRequested(() => {
            output.appendLine("cancelling the sweep…");
            // The server stops the sweep's process, which stops every trial; the request then fails.
            void request(target.client, Requests.CANCEL_SWEEP, { jobId }).then(undefined, (error: unknown) =>
              traceError(`Sweep: could not cancel job ${jobId}`, error),
            );
          });
          try {
            return await request(target.client, Requests.START_SWEEP, { ...params, workspaceUri: target.workspaceUri, jobId, uri: uri.toString() });
          } finally {
            cancel.dispose();
            this.listeners.delete(jobId);
          }
        },
      );
    } catch (error) {
      this.tree.refreshSoon();
      await this.failed(error);
      return;
    }
    this.tree.refreshSoon();
    for (const line of trialLines(result)) {
      output.appendLine(line);
    }
    await this.finished(result);
  }

  private async finished(result: StartSweepResult): Promise<void> {
    const summary = sweepSummary(result);
    this.output.appendLine(summary.message);
    const compare = summary.trialRunIds.length >= 2 ? ["Compare Trials"] : [];
    const show = summary.severity === "info" ? vscode.window.showInformationMessage : vscode.window.showWarningMessage;
    const picked = await show(`ML Workbench: ${summary.message}`, ...compare, "Show Output");
    if (picked === "Compare Trials") {
      // The Runs view's compare command takes its runs as the second argument (a multi-selection).
      await vscode.commands.executeCommand(Commands.COMPARE_RUNS, undefined, summary.trialRunIds.map((runId) => ({ runId })));
    } else if (picked === "Show Output") {
      this.output.show(true);
    }
  }

  private async failed(error: unknown): Promise<void> {
    if (isSweepCancellation(error)) {
      this.output.appendLine("sweep cancelled: trials in flight were stopped, the rest not started");
      return;
    }
    traceError("Sweep failed", error);
    const failure = sweepFailure(error);
    this.output.appendLine(`sweep failed: ${failure.message}`);
    const tail = failureOutput(error);
    if (tail) {
      this.output.appendLine(tail);
    }
    const picked = await vscode.window.showErrorMessage(`ML Workbench: ${failure.message}`, ...failure.fixes.map((fix) => fix.label));
    switch (failure.fixes.find((fix) => fix.label === picked)?.kind) {
      case "manageTrust":
        await vscode.commands.executeCommand("workbench.trust.manage");
        break;
      case "setupEnvironment":
        await vscode.commands.executeCommand(Commands.SETUP_ENVIRONMENT);
        break;
      case "showOutput":
        this.output.show(true);
        break;
      default:
        break;
    }
  }

  dispose(): void {
    this.listeners.clear();
    this.channel?.dispose();
  }
}
