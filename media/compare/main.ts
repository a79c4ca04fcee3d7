// Entry point of the Compare webview: shows loading, an error with Retry, or the compare data in
// four tabs (params table, metric curves, metric-vs-param scatter, parallel coordinates).
// Everything shown comes from the extension's replay after `ready`; only the user's view choices
// are kept in the webview state. A tab is drawn when it is first shown (and again after new data
// or a theme change), so the hidden ones cost nothing.
import "@vscode-elements/elements/dist/vscode-button/index.js";
import "@vscode-elements/elements/dist/vscode-progress-ring/index.js";
import "@vscode-elements/elements/dist/vscode-tab-header/index.js";
import "@vscode-elements/elements/dist/vscode-tab-panel/index.js";
import "@vscode-elements/elements/dist/vscode-tabs/index.js";
import {
  COMPARE_TABS,
  type CompareDataWire,
  type CompareHostMessage,
  CompareHostMessageType,
  type CompareTab,
  type CompareViewState,
  CompareWebviewMessageType,
  defaultViewState,
  isCompareHostMessage,
  isCompareViewState,
} from "../../extension/src/compare/compareContract";
import { NAME_COLUMN, runColors } from "../../extension/src/compare/compareShape";
import { type ChartTheme, readChartTheme, watchTheme } from "../liveMetrics/vegaTheme";
import { ChartTooltip } from "../common/chartEmbed";
import { themeRunColors } from "./runColors";
import { element } from "./dom";
import { LineCharts, type LineChartsOptions } from "./lineCharts";
import { ParallelCoords } from "./parallelCoords";
import { ParamsTable } from "./paramsTable";
import { ScatterChart } from "./scatterChart";
import { vscodeApi } from "./vscodeApi";

const TAB_LABELS: Record<CompareTab, string> = {
  params: "Params",
  lines: "Metric charts",
  scatter: "Metric vs param",
  parallel: "Parallel coordinates",
};

class CompareApp {
  private state: CompareViewState;
  private data: CompareDataWire | undefined;
  private colors = new Map<string, string>();
  private theme: ChartTheme = readChartTheme();
  /** Tabs whose drawing is out of date; the shown one is redrawn at once. */
  private readonly stale = new Set<CompareTab>();

  private readonly title = element("h1", "compare-title", "Compare runs");
  private readonly summary = element("span", "compare-summary");
  private readonly exportButton = document.createElement("vscode-button");
  private readonly loading = element("div", "loading");
  private readonly loadingText = element("span", undefined, "Loading runs\u2026");
  private readonly error = element("div", "error-state");
  private readonly errorText = element("p", "error-text");
  private readonly retryButton = document.createElement("vscode-button");
  private readonly tabs = document.createElement("vscode-tabs");
  private readonly tooltip = new ChartTooltip();
  private readonly table: ParamsTable;
  private readonly lines: LineCharts;
  private readonly scatter: ScatterChart;
  private readonly parallel: ParallelCoords;

  constructor(
    root: HTMLElement,
    private readonly vscode = vscodeApi(),
  ) {
    const saved = this.vscode.getState();
    this.state = isCompareViewState(saved) ? saved : defaultViewState();
    this.table = new ParamsTable({
      onHideUnchanged: (hideUnchanged) => this.update({ hideUnchanged }, ["params"]),
      onSort: (column) =>
        this.update(
          {
            sortColumn: column,
            sortDescending: column === this.state.sortColumn ? !this.state.sortDescending : false,
          },
          ["params"],
        ),
    });
    this.lines = new LineCharts(
      {
        onMetric: (lineMetric) => {
          this.saveState({ ...this.state, lineMetric });
          this.lines.applyFilter(lineMetric);
        },
        onXAxis: (xAxis) => this.update({ xAxis }, ["lines"]),
        onSmoothing: (smoothing) => {
          this.saveState({ ...this.state, smoothing });
          if (this.data !== undefined) {
            this.lines.update(this.lineOptions());
          }
        },
      },
      this.tooltip,
    );
    this.scatter = new ScatterChart(
      {
        onParam: (scatterParam) => this.update({ scatterParam }, ["scatter"]),
        onMetric: (scatterMetric) => this.update({ scatterMetric }, ["scatter"]),
      },
      this.tooltip,
    );
    this.parallel = new ParallelCoords(
      {
        onMetrics: (parallelMetrics) => this.update({ parallelMetrics }, ["parallel"]),
        onColorMetric: (colorMetric) => this.update({ colorMetric }, ["parallel"]),
      },
      this.tooltip,
    );
    root.append(this.buildHeader(), this.buildLoading(), this.buildError(), this.buildTabs());
    this.showLoading(0);

    watchTheme(() => this.onThemeChanged());
    window.addEventListener("message", (event: MessageEvent<unknown>) => this.onMessage(event.data));
    this.vscode.postMessage({ type: CompareWebviewMessageType.READY });
  }

  private onMessage(message: unknown): void {
    if (!isCompareHostMessage(message)) {
      console.warn("compare: ignored an unexpected message");
      return;
    }
    this.handle(message);
  }

  private handle(message: CompareHostMessage): void {
    switch (message.type) {
      case CompareHostMessageType.LOADING:
        this.showLoading(message.runCount);
        break;
      case CompareHostMessageType.ERROR:
        this.showError(message.message, message.retryable);
        break;
      case CompareHostMessageType.DATA:
        this.showData(message.data);
        break;
    }
  }

  private showLoading(runCount: number): void {
    this.loadingText.textContent = runCount > 0 ? `Loading ${runCount} runs\u2026` : "Loading runs\u2026";
    this.loading.hidden = false;
    this.error.hidden = true;
    this.exportButton.disabled = true;
    // Data already shown stays until the new data replaces it (less flicker on a reload).
  }

  private showError(text: string, retryable: boolean): void {
    this.errorText.textContent = text;
    this.retryButton.hidden = !retryable;
    this.error.hidden = false;
    this.loading.hidden = true;
    this.tabs.hidden = true;
    this.summary.textContent = "";
    this.exportButton.disabled = true;
    this.data = undefined;
  }

  private showData(data: CompareDataWire): void {
    this.data = data;
    this.loading.hidden = true;
    this.error.hidden = true;
    this.tabs.hidden = false;
    this.exportButton.disabled = false;
    const experiments = new Set(data.runs.map((run) => run.experiment_name));
    this.summary.textContent = `${data.runs.length} runs from ${experiments.size} experiment${experiments.size === 1 ? "" : "s"}`;
    const palette = runColors(data.runs.length, themeRunColors());
    this.colors = new Map(data.runs.map((run, i) => [run.run_id, palette[i]]));
    this.saveState(this.fitState(this.state, data));
    this.redraw(COMPARE_TABS);
  }

  /** Keeps the user's choices where this data has them, and fills the rest with sensible ones. */
  private fitState(state: CompareViewState, data: CompareDataWire): CompareViewState {
    const params = new Set(data.param_keys);
    const metrics = new Set(data.metric_keys);
    const parallelMetrics = state.parallelMetrics.filter((key) => metrics.has(key));
    const chosen = parallelMetrics.length > 0 ? parallelMetrics : data.metric_keys.slice(0, 2);
    return {
      ...state,
      sortColumn: state.sortColumn || NAME_COLUMN,
      lineMetric: metrics.has(state.lineMetric) ? state.lineMetric : "",
      scatterParam: params.has(state.scatterParam) ? state.scatterParam : (data.changed_param_keys[0] ?? data.param_keys[0] ?? ""),
      scatterMetric: metrics.has(state.scatterMetric) ? state.scatterMetric : (data.metric_keys[0] ?? ""),
      parallelMetrics: chosen,
      colorMetric: metrics.has(state.colorMetric) ? state.colorMetric : (chosen[0] ?? ""),
    };
  }

  private update(change: Partial<CompareViewState>, tabs: readonly CompareTab[]): void {
    this.saveState({ ...this.state, ...change });
    this.redraw(tabs);
  }

  private redraw(tabs: readonly CompareTab[]): void {
    for (const tab of tabs) {
      this.stale.add(tab);
    }
    this.drawShownTab();
  }

  private drawShownTab(): void {
    const data = this.data;
    const tab = this.state.tab;
    if (data === undefined || !this.stale.has(tab)) {
      return;
    }
    this.stale.delete(tab);
    const failed = (error: unknown): void => console.error(`compare: could not draw the ${tab} tab`, error);
    switch (tab) {
      case "params":
        this.table.render(data, {
          hideUnchanged: this.state.hideUnchanged,
          sortColumn: this.state.sortColumn,
          sortDescending: this.state.sortDescending,
          colors: this.colors,
        });
        break;
      case "lines":
        this.lines.render(data, this.lineOptions());
        break;
      case "scatter":
        void this.scatter
          .render(data, { param: this.state.scatterParam, metric: this.state.scatterMetric, colors: this.colors, theme: this.theme })
          .catch(failed);
        break;
      case "parallel":
        void this.parallel
          .render(data, {
            metrics: this.state.parallelMetrics,
            colorMetric: this.state.colorMetric,
            theme: this.theme,
            mutedColor: getComputedStyle(document.documentElement).getPropertyValue("--vscode-descriptionForeground").trim() || "gray",
          })
          .catch(failed);
        break;
    }
  }

  private lineOptions(): LineChartsOptions {
    return {
      lineMetric: this.state.lineMetric,
      xAxis: this.state.xAxis,
      smoothing: this.state.smoothing,
      colors: this.colors,
      theme: this.theme,
    };
  }

  private onThemeChanged(): void {
    const theme = readChartTheme();
    if (theme.key !== this.theme.key && this.data !== undefined) {
      this.theme = theme;
      this.showData(this.data); // run colours follow the theme's chart colours too
    }
  }

  private buildHeader(): HTMLElement {
    const header = element("header", "compare-header");
    this.exportButton.textContent = "Export CSV";
    this.exportButton.secondary = true;
    this.exportButton.title = "Save every run's params and latest metrics as a CSV file";
    this.exportButton.addEventListener("click", () => this.vscode.postMessage({ type: CompareWebviewMessageType.EXPORT_CSV }));
    header.append(this.title, this.summary, this.exportButton);
    return header;
  }

  private buildLoading(): HTMLElement {
    this.loading.setAttribute("role", "status");
    const ring = document.createElement("vscode-progress-ring");
    ring.setAttribute("aria-hidden", "true");
    this.loading.append(ring, this.loadingText);
    return this.loading;
  }

  private buildError(): HTMLElement {
    this.error.setAttribute("role", "alert");
    this.retryButton.textContent = "Retry";
    this.retryButton.addEventListener("click", () => {
      this.showLoading(0);
      this.vscode.postMessage({ type: CompareWebviewMessageType.RETRY });
    });
    this.error.append(element("h2", "error-title", "Could not compare these runs"), this.errorText, this.retryButton);
    this.error.hidden = true;
    return this.error;
  }

  private buildTabs(): HTMLElement {
    const sections: Record<CompareTab, HTMLElement> = {
      params: this.table.element,
      lines: this.lines.element,
      scatter: this.scatter.element,
      parallel: this.parallel.element,
    };
    for (const tab of COMPARE_TABS) {
      const header = document.createElement("vscode-tab-header");
      header.slot = "header";
      header.textContent = TAB_LABELS[tab];
      const panel = document.createElement("vscode-tab-panel");
      panel.append(sections[tab]);
      this.tabs.append(header, panel);
    }
    this.tabs.selectedIndex = COMPARE_TABS.indexOf(this.state.tab);
    this.tabs.addEventListener("vsc-tabs-select", (event) => {
      const tab = COMPARE_TABS[event.detail.selectedIndex] ?? "params";
      this.saveState({ ...this.state, tab });
      this.tooltip.hide();
      // After the panel is laid out, so charts measure their real width.
      requestAnimationFrame(() => this.drawShownTab());
    });
    this.tabs.hidden = true;
    return this.tabs;
  }

  private saveState(state: CompareViewState): void {
    this.state = state;
    this.vscode.setState(state);
  }
}

const root = document.getElementById("root");
if (root !== null) {
  new CompareApp(root);
}
