// The Runs view: experiments → runs with live status, read from the server (MLflow store).
// It refreshes when a run starts or ends, when the server restarts, and when the store file
// changes on disk (a script run from a plain terminal), debounced so it never polls.
import * as path from "path";
import * as vscode from "vscode";
import { ServerManager } from "../common/serverManager";
import { traceError } from "../common/log";
import { Commands, ContextKeys, ListRunsResult, Requests, RunSummary } from "../protocol";
import { describeRun, formatNumber } from "./runFormat";
import { statusIcon } from "./runPresentation";

type Node = ExperimentNode | RunNode;

interface ExperimentNode {
  kind: "experiment";
  name: string;
  runs: RunSummary[];
}

interface RunNode {
  kind: "run";
  run: RunSummary;
  running: boolean;
}

export class RunsTreeProvider implements vscode.TreeDataProvider<Node>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<Node | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private debounce: NodeJS.Timeout | undefined;
  private lastError: string | undefined;
  private scriptFilter: string | undefined;
  view: vscode.TreeView<Node> | undefined;

  constructor(private readonly servers: ServerManager) {}

  refresh(): void {
    this.changed.fire(undefined);
  }

  /** Show only the runs of one script (the `N runs` lens), or all runs again. */
  async setScriptFilter(script: string | undefined): Promise<void> {
    this.scriptFilter = script;
    await vscode.commands.executeCommand("setContext", ContextKeys.RUNS_FILTERED, script !== undefined);
    if (this.view) {
      // A message, not the description: a container's only view hides its header.
      this.view.message = script ? `Runs of ${path.basename(script)} only — Show All Runs clears this.` : undefined;
    }
    this.refresh();
  }

  /** Coalesces bursts of changes (a run logging, the store file being written) into one refresh. */
  refreshSoon(delayMs = 750): void {
    if (this.debounce) {
      clearTimeout(this.debounce);
    }
    this.debounce = setTimeout(() => this.refresh(), delayMs);
  }

  getTreeItem(node: Node): vscode.TreeItem {
    if (node.kind === "experiment") {
      const item = new vscode.TreeItem(node.name, vscode.TreeItemCollapsibleState.Expanded);
      item.iconPath = new vscode.ThemeIcon("beaker");
      item.description = `${node.runs.length} run${node.runs.length === 1 ? "" : "s"}`;
      item.contextValue = "experiment";
      return item;
    }
    const { run, running } = node;
    const item = new vscode.TreeItem(run.run_name, vscode.TreeItemCollapsibleState.None);
    item.id = run.run_id;
    item.iconPath = statusIcon(running ? "RUNNING" : run.status);
    item.description = describeRun(run, Date.now());
    item.tooltip = tooltip(run);
    item.contextValue = running ? "run.running" : "run.ended";
    item.accessibilityInformation = { label: `${run.run_name}, ${running ? "running" : run.status.toLowerCase()}` };
    return item;
  }

  async getChildren(node?: Node): Promise<Node[]> {
    if (node?.kind === "experiment") {
      const running = await this.runningIds();
      return node.runs.map((run) => ({ kind: "run", run, running: running.has(run.run_id) || run.status === "RUNNING" }));
    }
    if (node) {
      return [];
    }
    const result = await this.fetch();
    if (!result || result.runs.length === 0) {
      return [];
    }
    const byExperiment = new Map<string, RunSummary[]>();
    const filter = this.scriptFilter;
    const runs = filter ? result.runs.filter((r) => r.script && samePath(r.script, filter)) : result.runs;
    for (const run of runs) {
      const list = byExperiment.get(run.experiment_name) ?? [];
      list.push(run);
      byExperiment.set(run.experiment_name, list);
    }
    return [...byExperiment].map(([name, runs]) => ({ kind: "experiment", name, runs }));
  }

  private lastRunning = new Set<string>();

  private runningIds(): Promise<Set<string>> {
    return Promise.resolve(this.lastRunning);
  }

  private async fetch(): Promise<ListRunsResult | undefined> {
    const client = this.servers.languageClient;
    const folder = vscode.workspace.workspaceFolders?.[0];
    if (!client || !folder) {
      return undefined;
    }
    try {
      const result = await client.sendRequest<ListRunsResult>(Requests.LIST_RUNS, { workspaceUri: folder.uri.toString() });
      this.lastRunning = new Set(result.running);
      this.lastError = undefined;
      return result;
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      if (message !== this.lastError) {
        this.lastError = message;
        traceError("Listing runs failed", error);
        void vscode.window.showWarningMessage(`ML Workbench: cannot list runs: ${message}`, "Show Log").then(
          (c) => c && vscode.commands.executeCommand(Commands.SHOW_LOG),
        );
      }
      return undefined;
    }
  }

  dispose(): void {
    if (this.debounce) {
      clearTimeout(this.debounce);
    }
    this.changed.dispose();
  }
}

function samePath(a: string, b: string): boolean {
  return path.resolve(a) === path.resolve(b);
}

function tooltip(run: RunSummary): vscode.MarkdownString {
  const md = new vscode.MarkdownString(undefined, true);
  md.isTrusted = false;
  md.supportHtml = false;
  md.appendMarkdown(`**${escapeMarkdown(run.run_name)}** — ${run.status}\n\n`);
  if (run.script) {
    md.appendMarkdown(`Script: \`${escapeMarkdown(path.basename(run.script))}\`\n\n`);
  }
  const params = Object.entries(run.params);
  if (params.length) {
    md.appendMarkdown(`Params: ${params.map(([k, v]) => `${escapeMarkdown(k)}=${escapeMarkdown(v)}`).join(", ")}\n\n`);
  }
  const metrics = Object.entries(run.metrics);
  if (metrics.length) {
    md.appendMarkdown(`Metrics: ${metrics.map(([k, v]) => `${escapeMarkdown(k)}=${formatNumber(v)}`).join(", ")}\n\n`);
  }
  if (run.error_tail) {
    md.appendCodeblock(run.error_tail.split(/\r?\n/).slice(-5).join("\n"), "text");
  }
  md.appendMarkdown(`\`${run.run_id}\``);
  return md;
}

function escapeMarkdown(text: string): string {
  return text.replace(/[\\`*_{}[\]()#+\-.!|<>]/g, "\\$&");
}
