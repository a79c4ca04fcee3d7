// The Runs view: experiments → runs → parameters, metrics, tags, note, artifacts. Pages come
// from the server's run summary cache (fast on 10,000 runs); the filter, order, grouping and
// deleted-runs toggle live in `RunsQuery`. It refreshes when a run starts or ends, when the
// server restarts, and when the store file changes on disk, throttled so it never polls. How rows
// look is in runsTreeItems.ts.
import * as vscode from "vscode";
import { traceError } from "../common/log";
import { request, RequestMethod, WorkspaceClient, workspaceClient } from "../common/requests";
import { ServerManager } from "../common/serverManager";
import {
  ArtifactEntry,
  Commands,
  ContextKeys,
  ExperimentInfo,
  ReportEntry,
  Requests,
  RunDetails,
  RunModel,
  RunPage,
  RunSummary,
} from "../protocol";
import { formatNumber } from "./runFormat";
import {
  describeQuery,
  effectiveFilter,
  groupByScript,
  initialQuery,
  loadingRecheckMs,
  PAGE_SIZE,
  RunsQuery,
  ScriptGroup,
} from "./runsQuery";
import { countText } from "./runFormat";
import { artifactItem, firstLine, modelItem, reportItem, runItem, sectionItem, valueItem } from "./runsTreeItems";

interface PageState {
  key: string;
  experimentId: string | undefined;
  deleted: boolean;
  runs: RunSummary[];
  total: number;
  totalKnown: boolean; // false: `total` is a lower bound (runFormat.countText)
  loading: boolean; // answered while the server's cache loads: asked again (recheckWhileLoading)
  nextOffset: number | null;
}

export type RunsNode =
  | { kind: "experiment"; info: ExperimentInfo; page: PageState }
  | { kind: "deleted"; page: PageState }
  | { kind: "group"; group: ScriptGroup; page: PageState }
  | { kind: "run"; run: RunSummary; running: boolean; deleted: boolean }
  | { kind: "section"; section: "params" | "metrics" | "tags" | "models" | "artifacts" | "reports"; run: RunSummary; details?: RunDetails }
  | { kind: "value"; run: RunSummary; id: string; label: string; description: string; tooltip: string; tagKey?: string; note?: true }
  | { kind: "artifact"; run: RunSummary; entry: ArtifactEntry }
  | { kind: "model"; run: RunSummary; model: RunModel }
  | { kind: "report"; run: RunSummary; entry: ReportEntry }
  | { kind: "more"; page: PageState }
  | { kind: "message"; text: string; icon: string; command?: vscode.Command };

export class RunsTreeProvider implements vscode.TreeDataProvider<RunsNode>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<RunsNode | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private debounce: NodeJS.Timeout | undefined;
  private debounceDue = 0;
  private lastError: string | undefined;
  private loadingRechecks = 0; // answers in a row that the loading cache gave (runsQuery.loadingRecheckMs)
  private running = new Set<string>();
  private pages = new Map<string, PageState>();
  private query: RunsQuery = initialQuery;
  view: vscode.TreeView<RunsNode> | undefined;

  constructor(private readonly servers: ServerManager) {}

  get currentQuery(): RunsQuery {
    return this.query;
  }

  /** Every run the view has loaded (sort choices, palette pickers). */
  loadedRuns(): RunSummary[] {
    return [...this.pages.values()].flatMap((p) => p.runs);
  }

  refresh(): void {
    this.changed.fire(undefined);
  }

  async update(change: Partial<RunsQuery>): Promise<void> {
    this.query = { ...this.query, ...change };
    const narrowed = this.query.script !== undefined || this.query.filter.trim() !== "";
    await vscode.commands.executeCommand("setContext", ContextKeys.RUNS_FILTERED, narrowed);
    await vscode.commands.executeCommand("setContext", ContextKeys.RUNS_GROUPED, this.query.groupByScript);
    await vscode.commands.executeCommand("setContext", ContextKeys.RUNS_SHOW_DELETED, this.query.showDeleted);
    if (this.view) {
      // A message, not the description: a container's only view hides its header.
      this.view.message = describeQuery(this.query);
    }
    this.refresh();
  }

  /** Show only the runs of one script (the `N runs` lens), or all runs again. */
  setScriptFilter(script: string | undefined): Promise<void> {
    return this.update({ script });
  }

  /**
   * Coalesces bursts of changes (a run logging, the store file being written) into one refresh
   * per `delayMs`: a throttle, not a debounce, so a run logging every second still shows up.
   * A sooner request (a run that just ended, 200 ms) brings a pending later one forward, so the
   * row's state never lags the "finished" notification by a store-watch delay.
   */
  refreshSoon(delayMs = 1000): void {
    const due = Date.now() + delayMs;
    if (this.debounce) {
      if (this.debounceDue <= due) {
        return;
      }
      clearTimeout(this.debounce);
    }
    this.debounceDue = due;
    this.debounce = setTimeout(() => {
      this.debounce = undefined;
      this.refresh();
    }, delayMs);
  }

  /** Asks the server for one page, to check a filter as it is typed: the problem or undefined. */
  async checkFilter(filter: string): Promise<{ message: string; position?: number } | undefined> {
    const target = workspaceClient(this.servers);
    if (!target || !filter.trim()) {
      return undefined;
    }
    try {
      await request(target.client, Requests.QUERY_RUNS, { workspaceUri: target.workspaceUri, filter, limit: 1 });
      return undefined;
    } catch (error) {
      const data = (error as { data?: { position?: unknown } }).data;
      const position = typeof data?.position === "number" ? data.position : undefined;
      return { message: error instanceof Error ? error.message : String(error), position };
    }
  }

  async loadMore(node: RunsNode | undefined): Promise<void> {
    if (node?.kind !== "more" || node.page.nextOffset === null) {
      return;
    }
    const page = await this.fetchPage(node.page.experimentId, node.page.deleted, node.page.nextOffset);
    if (page) {
      node.page.runs.push(...page.runs);
      node.page.total = page.total;
      node.page.totalKnown = page.total_known;
      node.page.loading = page.loading;
      node.page.nextOffset = page.next_offset;
      this.refresh();
    }
  }

  getTreeItem(node: RunsNode): vscode.TreeItem {
    switch (node.kind) {
      case "experiment": {
        const item = new vscode.TreeItem(node.info.name, vscode.TreeItemCollapsibleState.Expanded);
        item.id = `experiment/${node.info.experiment_id}`;
        item.iconPath = new vscode.ThemeIcon("beaker");
        // Until the server's cache has read every run, an experiment's count is unknown: the
        // unfiltered page's total (itself maybe a lower bound) stands in for it.
        const narrowed = this.narrowed();
        const all = node.info.run_count_known ? node.info.run_count : node.page.total;
        const allKnown = node.info.run_count_known || (!narrowed && node.page.totalKnown);
        item.description = countText(node.page.total, all, narrowed, node.page.totalKnown, allKnown);
        item.contextValue = "experiment";
        return item;
      }
      case "deleted": {
        const item = new vscode.TreeItem("Deleted runs", vscode.TreeItemCollapsibleState.Expanded);
        item.id = "deleted";
        item.iconPath = new vscode.ThemeIcon("trash");
        item.description = countText(node.page.total, node.page.total, false, true, node.page.totalKnown);
        item.tooltip = "Runs deleted with MLflow's soft delete. Restore brings one back.";
        item.contextValue = "deletedRuns";
        return item;
      }
      case "group": {
        const item = new vscode.TreeItem(node.group.label, vscode.TreeItemCollapsibleState.Expanded);
        item.id = `group/${node.page.key}/${node.group.script ?? ""}`;
        item.iconPath = new vscode.ThemeIcon("file-code");
        item.description = `${node.group.runs.length} run${node.group.runs.length === 1 ? "" : "s"}`;
        item.tooltip = node.group.script ?? "Runs logged without ML Workbench's script tag";
        item.contextValue = "scriptGroup";
        return item;
      }
      case "run":
        return runItem(node.run, node.running, node.deleted);
      case "section":
        return sectionItem(node);
      case "value":
        return valueItem(node);
      case "artifact":
        return artifactItem(node.run, node.entry);
      case "model":
        return modelItem(node.run, node.model);
      case "report":
        return reportItem(node.run, node.entry);
      case "more": {
        const item = new vscode.TreeItem("Load more…", vscode.TreeItemCollapsibleState.None);
        item.id = `more/${node.page.key}/${node.page.runs.length}`;
        item.iconPath = new vscode.ThemeIcon("more");
        item.description = `${node.page.runs.length} of ${node.page.total}${node.page.totalKnown ? "" : "+"} shown`;
        item.command = { command: Commands.LOAD_MORE_RUNS, title: "Load more", arguments: [node] };
        item.contextValue = "more";
        return item;
      }
      case "message": {
        const item = new vscode.TreeItem(node.text, vscode.TreeItemCollapsibleState.None);
        item.iconPath = new vscode.ThemeIcon(node.icon);
        item.tooltip = node.text;
        item.command = node.command;
        item.contextValue = "message";
        return item;
      }
    }
  }

  async getChildren(node?: RunsNode): Promise<RunsNode[]> {
    if (!node) {
      return this.roots();
    }
    switch (node.kind) {
      case "experiment":
      case "deleted":
        return this.pageChildren(node.page, node.kind === "deleted");
      case "group":
        return node.group.runs.map((run) => this.runNode(run, false));
      case "run":
        return this.runSections(node.run);
      case "section":
        return this.sectionChildren(node);
      case "artifact":
        return node.entry.is_dir ? this.artifactChildren(node.run, node.entry.path) : [];
      default:
        return [];
    }
  }

  private narrowed(): boolean {
    return effectiveFilter(this.query) !== "";
  }

  private async roots(): Promise<RunsNode[]> {
    const target = workspaceClient(this.servers);
    if (!target) {
      return [];
    }
    this.pages = new Map();
    let experiments: ExperimentInfo[];
    try {
      const result = await request(target.client, Requests.LIST_EXPERIMENTS, { workspaceUri: target.workspaceUri });
      experiments = result.experiments.filter((e) => e.lifecycle_stage === "active");
    } catch (error) {
      return [this.errorNode(error)];
    }
    const nodes: RunsNode[] = [];
    let deletedPage: PageState | undefined;
    if (this.query.showDeleted) {
      deletedPage = await this.loadPage("deleted", undefined, true);
      if (!deletedPage) {
        return [this.errorNode(this.lastError)];
      }
      nodes.push({ kind: "deleted", page: deletedPage });
    }
    const pages = await Promise.all(experiments.map((e) => this.loadPage(`experiment/${e.experiment_id}`, e.experiment_id, false)));
    if (pages.some((p) => p === undefined)) {
      return [this.errorNode(this.lastError)];
    }
    experiments.forEach((info, i) => {
      const page = pages[i] as PageState;
      if (page.total > 0 || !this.narrowed()) {
        nodes.push({ kind: "experiment", info, page });
      }
    });
    this.recheckWhileLoading(experiments, [...pages, deletedPage]);
    if (nodes.length === 0 && this.narrowed()) {
      return [
        {
          kind: "message",
          text: "No runs match — click to show all runs",
          icon: "filter",
          command: { command: Commands.CLEAR_RUNS_FILTER, title: "Show All Runs" },
        },
      ];
    }
    return experiments.length === 0 && nodes.length === 0 ? [] : nodes;
  }

  /**
   * While the server's cache still loads (pages marked `loading`, run counts not known), the
   * view shows what it was given and asks again later, so counts and totals settle by
   * themselves on a store nothing else changes.
   */
  private recheckWhileLoading(experiments: ExperimentInfo[], pages: (PageState | undefined)[]): void {
    const partial = experiments.some((e) => !e.run_count_known) || pages.some((p) => p?.loading);
    if (!partial) {
      this.loadingRechecks = 0;
      return;
    }
    this.refreshSoon(loadingRecheckMs(this.loadingRechecks));
    this.loadingRechecks += 1;
  }

  private pageChildren(page: PageState, deleted: boolean): RunsNode[] {
    const nodes: RunsNode[] = this.query.groupByScript && !deleted
      ? groupByScript(page.runs).map((group) => ({ kind: "group", group, page }))
      : page.runs.map((run) => this.runNode(run, deleted));
    if (page.nextOffset !== null) {
      nodes.push({ kind: "more", page });
    }
    return nodes;
  }

  private runNode(run: RunSummary, deleted: boolean): RunsNode {
    return { kind: "run", run, running: this.running.has(run.run_id) || run.status === "RUNNING", deleted };
  }

  private async runSections(run: RunSummary): Promise<RunsNode[]> {
    const details = await this.quietly(Requests.RUN_DETAILS, (to) =>
      request(to.client, Requests.RUN_DETAILS, { workspaceUri: to.workspaceUri, runId: run.run_id }),
    );
    const nodes: RunsNode[] = [];
    if (details?.note) {
      nodes.push({ kind: "value", run, id: `${run.run_id}/note`, label: "Note", description: firstLine(details.note), tooltip: details.note, note: true });
    }
    // MLflow 3 keeps logged models outside the run's artifacts: a Models section shows them.
    // Reports (the run's reports/*.json) come last, after the artifacts that hold their files.
    for (const section of ["params", "metrics", "tags", "models", "artifacts", "reports"] as const) {
      if (section !== "models" || details?.models.length) {
        nodes.push({ kind: "section", section, run, details });
      }
    }
    return nodes;
  }

  private async sectionChildren(node: Extract<RunsNode, { kind: "section" }>): Promise<RunsNode[]> {
    const { run, details } = node;
    const entries = (values: Record<string, string | number>, prefix: string, tags = false): RunsNode[] =>
      Object.entries(values)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([key, value]) => ({
          kind: "value",
          run,
          id: `${run.run_id}/${prefix}/${key}`,
          label: key,
          description: typeof value === "number" ? formatNumber(value) : value,
          tooltip: `${key} = ${String(value)}`,
          tagKey: tags ? key : undefined,
        }));
    switch (node.section) {
      case "params":
        return entries(details?.params ?? run.params, "params");
      case "metrics":
        return entries(details?.metrics ?? run.metrics, "metrics");
      case "tags":
        return entries(details?.tags ?? {}, "tags", true);
      case "models":
        return (details?.models ?? []).map((model) => ({ kind: "model", run, model }));
      case "artifacts":
        return this.artifactChildren(run, undefined);
      case "reports":
        return this.reportChildren(run);
    }
  }

  private async reportChildren(run: RunSummary): Promise<RunsNode[]> {
    const result = await this.quietly(Requests.LIST_REPORTS, (to) =>
      request(to.client, Requests.LIST_REPORTS, { workspaceUri: to.workspaceUri, runId: run.run_id }),
    );
    if (!result) {
      return [{ kind: "message", text: "Cannot list reports (see log)", icon: "info", command: { command: Commands.SHOW_LOG, title: "Show Log" } }];
    }
    if (result.reports.length === 0) {
      return [
        {
          kind: "message",
          text: "No reports yet: Create Report\u2026",
          icon: "add",
          command: { command: Commands.CREATE_REPORT, title: "Create Report\u2026", arguments: [{ runId: run.run_id, runName: run.run_name }] },
        },
      ];
    }
    return result.reports.map((entry) => ({ kind: "report", run, entry }));
  }

  private async artifactChildren(run: RunSummary, artifactPath: string | undefined): Promise<RunsNode[]> {
    const result = await this.quietly(Requests.LIST_ARTIFACTS, (to) =>
      request(to.client, Requests.LIST_ARTIFACTS, { workspaceUri: to.workspaceUri, runId: run.run_id, path: artifactPath }),
    );
    const entries = result?.entries ?? [];
    if (entries.length === 0) {
      return [{ kind: "message", text: result ? "No artifacts" : "Cannot list artifacts (see log)", icon: "info" }];
    }
    return entries.map((entry) => ({ kind: "artifact", run, entry }));
  }

  private async loadPage(key: string, experimentId: string | undefined, deleted: boolean): Promise<PageState | undefined> {
    const previous = this.pages.get(key);
    const page = await this.fetchPage(experimentId, deleted, 0, Math.max(PAGE_SIZE, previous?.runs.length ?? 0));
    if (!page) {
      return undefined;
    }
    const state: PageState = {
      key,
      experimentId,
      deleted,
      runs: page.runs,
      total: page.total,
      totalKnown: page.total_known,
      loading: page.loading,
      nextOffset: page.next_offset,
    };
    this.pages.set(key, state);
    return state;
  }

  private async fetchPage(experimentId: string | undefined, deleted: boolean, offset: number, limit = PAGE_SIZE): Promise<RunPage | undefined> {
    const filter = effectiveFilter(this.query);
    const result = await this.quietly(Requests.QUERY_RUNS, (to) =>
      request(to.client, Requests.QUERY_RUNS, {
        workspaceUri: to.workspaceUri,
        experimentId,
        deleted,
        offset,
        limit,
        filter: filter || undefined,
        orderBy: this.query.orderBy,
      }),
    );
    if (result) {
      this.running = new Set(result.running);
      return result.page;
    }
    return undefined;
  }

  /** `send` to the server about the workspace; undefined when it fails (the error kept for the view, logged once). */
  private async quietly<T>(method: RequestMethod, send: (to: WorkspaceClient) => Promise<T>): Promise<T | undefined> {
    const target = workspaceClient(this.servers);
    if (!target) {
      return undefined;
    }
    try {
      const result = await send(target);
      this.lastError = undefined;
      return result;
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      if (message !== this.lastError) {
        traceError(`${method} failed`, error);
      }
      this.lastError = message;
      return undefined;
    }
  }

  private errorNode(error: unknown): RunsNode {
    const message = error instanceof Error ? error.message : typeof error === "string" ? error : "unknown error";
    return {
      kind: "message",
      text: `Cannot list runs: ${message}`,
      icon: "warning",
      command: { command: Commands.SHOW_LOG, title: "Show Log" },
    };
  }

  dispose(): void {
    if (this.debounce) {
      clearTimeout(this.debounce);
    }
    this.changed.dispose();
  }
}
