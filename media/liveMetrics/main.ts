// Entry point of the live metrics webview: receives the run's points from the extension, keeps
// one MetricSeries per metric and draws them, batched to at most four updates a second.
// Everything shown is rebuilt from the extension's replay after `ready`; only the user's view
// choices (x axis, metric filter) are kept in the webview state.
import {
  ExtensionMessageType,
  type ExtensionMessage,
  type LiveMetricsState,
  type RunStatus,
  WebviewMessageType,
  type WireMetricPoint,
  type XAxis,
  isExtensionMessage,
  isLiveMetricsState,
} from "../../extension/src/webview/contract";
import { compareKeys } from "../../extension/src/webview/metricFormat";
import { MetricSeries } from "../../extension/src/webview/metricSeries";
import { MetricChart } from "./metricChart";
import { PanelView } from "./panelView";
import { type ChartTheme, readChartTheme, watchTheme } from "./vegaTheme";
import { vscodeApi } from "./vscodeApi";

/** The most often charts and table redraw while points stream in. */
const FLUSH_INTERVAL_MS = 250;

class LiveMetricsApp {
  private readonly charts = new Map<string, MetricChart>();
  private readonly view: PanelView;
  private state: LiveMetricsState;
  private status: RunStatus | undefined;
  private theme: ChartTheme = readChartTheme();
  private readonly dirty = new Set<MetricChart>();
  private frameRequested = false;
  private lastFlush = -Infinity;
  private keysChanged = false;
  private readonly resizeObserver: ResizeObserver;
  private resizeRequested = false;

  constructor(
    root: HTMLElement,
    private readonly vscode = vscodeApi(),
  ) {
    const saved = this.vscode.getState();
    this.state = isLiveMetricsState(saved) ? saved : { runId: "", title: "", xAxis: "step", metric: "" };
    this.view = new PanelView(root, {
      onXAxis: (xAxis) => this.setXAxis(xAxis),
      onMetric: (metric) => this.setMetric(metric),
      onExport: () => this.vscode.postMessage({ type: WebviewMessageType.EXPORT_CSV }),
    });
    this.view.setXAxis(this.state.xAxis);
    if (this.state.title) {
      this.view.setRunName(this.state.title);
    }
    this.view.setEmpty(true, false);

    watchTheme(() => this.onThemeChanged());
    // Vega sizes "container"-wide charts on window resize only; the grid reflows charts without
    // one when a chart is added or the filter changes, so a ResizeObserver supplies it.
    this.resizeObserver = new ResizeObserver(() => this.requestResize());
    window.addEventListener("message", (event: MessageEvent<unknown>) => this.onMessage(event.data));
    this.vscode.postMessage({ type: WebviewMessageType.READY });
  }

  private onMessage(message: unknown): void {
    if (!isExtensionMessage(message)) {
      console.warn("live metrics: ignored an unexpected message");
      return;
    }
    this.handle(message);
  }

  private handle(message: ExtensionMessage): void {
    switch (message.type) {
      case ExtensionMessageType.INIT:
        this.reset(message.runId, message.title);
        break;
      case ExtensionMessageType.POINTS:
        this.addPoints(message.points);
        break;
      case ExtensionMessageType.STATUS:
        this.status = message.status;
        this.view.setStatus(message.status, message.detail);
        this.view.setEmpty(this.charts.size === 0, message.status !== "RUNNING");
        break;
    }
  }

  private reset(runId: string, title: string): void {
    for (const chart of this.charts.values()) {
      this.resizeObserver.unobserve(chart.container);
      chart.dispose();
    }
    this.charts.clear();
    this.dirty.clear();
    this.status = undefined;
    this.saveState({ ...this.state, runId, title });
    this.view.setRunName(title);
    this.view.setEmpty(true, false);
    this.view.updateTable([]);
    this.view.setMetricKeys([], this.state.metric);
  }

  private addPoints(points: readonly WireMetricPoint[]): void {
    for (const point of points) {
      let chart = this.charts.get(point.key);
      if (chart === undefined) {
        chart = this.addChart(point.key);
      }
      chart.series.push(point);
      this.dirty.add(chart);
    }
    this.requestFrame();
  }

  private addChart(key: string): MetricChart {
    const chart = new MetricChart(new MetricSeries(key));
    this.charts.set(key, chart);
    this.keysChanged = true;
    // Charts stay in key order, whatever order their first points arrive in.
    // The smallest key greater than this one (not the first-added greater one).
    const next = [...this.charts.values()]
      .filter((other) => other !== chart && compareKeys(key, other.series.key) < 0)
      .sort((a, b) => compareKeys(a.series.key, b.series.key))[0];
    this.view.charts.insertBefore(chart.element, next?.element ?? null);
    chart.hidden = this.state.metric !== "" && this.state.metric !== key;
    this.resizeObserver.observe(chart.container);
    void chart.render(this.theme, this.state.xAxis).catch((error: unknown) => this.renderFailed(key, error));
    return chart;
  }

  /**
   * Redraws at most every FLUSH_INTERVAL_MS however many messages arrived: a fast run logs in
   * bursts, and past a few thousand points each chart update re-encodes every drawn point.
   */
  private requestFrame(): void {
    if (this.frameRequested) {
      return;
    }
    this.frameRequested = true;
    const wait = Math.max(0, this.lastFlush + FLUSH_INTERVAL_MS - performance.now());
    setTimeout(() => {
      requestAnimationFrame(() => {
        this.frameRequested = false;
        this.lastFlush = performance.now();
        this.flush();
      });
    }, wait);
  }

  private flush(): void {
    for (const chart of this.dirty) {
      chart.flush();
    }
    this.dirty.clear();
    const sorted = this.sortedCharts();
    this.view.updateTable(sorted.map((chart) => chart.series));
    if (this.keysChanged) {
      this.keysChanged = false;
      this.view.setMetricKeys(
        sorted.map((chart) => chart.series.key),
        this.state.metric,
      );
    }
    this.view.setEmpty(this.charts.size === 0, this.status !== undefined && this.status !== "RUNNING");
  }

  private requestResize(): void {
    if (this.resizeRequested) {
      return;
    }
    this.resizeRequested = true;
    requestAnimationFrame(() => {
      this.resizeRequested = false;
      window.dispatchEvent(new Event("resize"));
    });
  }

  private sortedCharts(): MetricChart[] {
    return [...this.charts.values()].sort((a, b) => compareKeys(a.series.key, b.series.key));
  }

  private setXAxis(xAxis: XAxis): void {
    if (xAxis === this.state.xAxis) {
      return;
    }
    this.saveState({ ...this.state, xAxis });
    this.renderAll();
  }

  private setMetric(metric: string): void {
    this.saveState({ ...this.state, metric });
    for (const [key, chart] of this.charts) {
      chart.hidden = metric !== "" && metric !== key;
    }
  }

  private onThemeChanged(): void {
    const theme = readChartTheme();
    if (theme.key !== this.theme.key) {
      this.theme = theme;
      this.renderAll();
    }
  }

  private renderAll(): void {
    for (const [key, chart] of this.charts) {
      void chart.render(this.theme, this.state.xAxis).catch((error: unknown) => this.renderFailed(key, error));
    }
  }

  private renderFailed(key: string, error: unknown): void {
    console.error(`live metrics: could not draw ${key}`, error);
  }

  private saveState(state: LiveMetricsState): void {
    this.state = state;
    this.vscode.setState(state);
  }
}

const root = document.getElementById("root");
if (root !== null) {
  new LiveMetricsApp(root);
}
