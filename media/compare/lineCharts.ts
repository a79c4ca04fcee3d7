// The metric line charts: one per metric (or the one chosen), every run a line in its colour,
// x = step or wall time since the run started, smoothed with TensorBoard's EMA. The series come
// downsampled from the server; a chart says so. Charts are embedded only once scrolled into view,
// and smoothing or hiding a run swaps their data instead of rebuilding them, so 120 runs stay
// responsive.
import "@vscode-elements/elements/dist/vscode-single-select/index.js";
import type { Result } from "vega-embed";
import type { CompareDataWire, CompareXAxis } from "../../extension/src/compare/compareContract";
import { MAX_SMOOTHING } from "../../extension/src/compare/compareContract";
import { downsampleNote, lineShape } from "../../extension/src/compare/compareShape";
import { LINE_DATA, lineSpec } from "../../extension/src/compare/compareSpecs";
import { clampSmoothing } from "../../extension/src/compare/compareSmoothing";
import type { ChartTheme } from "../liveMetrics/vegaTheme";
import { type ChartTooltip, embedChart } from "../common/chartEmbed";
import { colorScale } from "./runColors";
import { control, element, fillSelect, swatch } from "./dom";
import { radioControl } from "../common/radioControl";

const ALL_METRICS = "";

export interface LineChartsEvents {
  onMetric(metric: string): void;
  onXAxis(xAxis: CompareXAxis): void;
  onSmoothing(smoothing: number): void;
}

export interface LineChartsOptions {
  lineMetric: string;
  xAxis: CompareXAxis;
  smoothing: number;
  colors: ReadonlyMap<string, string>;
  theme: ChartTheme;
}

/** One metric's chart card. */
class LineChart {
  readonly element = element("figure", "chart");
  private readonly note = element("span", "chart-note");
  readonly plot = element("div", "chart-plot");
  private result: Result | undefined;
  private generation = 0;
  /** Set once the chart has been scrolled into view; until then nothing is embedded. */
  seen = false;

  constructor(readonly key: string) {
    const caption = element("figcaption");
    const title = element("span", "chart-title", key);
    title.title = key;
    caption.append(title, this.note);
    this.plot.setAttribute("role", "img");
    this.element.append(caption, this.plot);
  }

  async render(data: CompareDataWire, options: LineChartsOptions, hidden: ReadonlySet<string>, tooltip: ChartTooltip): Promise<void> {
    const generation = ++this.generation;
    const shape = lineShape(data, this.key, options.xAxis, options.smoothing, hidden);
    this.note.textContent = downsampleNote(data, this.key);
    this.plot.setAttribute("aria-label", `Line chart of ${this.key} for ${data.runs.length} runs by ${shape.xTitle}`);
    this.result?.finalize();
    this.result = undefined;
    const result = await embedChart(this.plot, lineSpec(this.key, shape.xTitle, colorScale(data, options.colors)), options.theme, tooltip);
    if (generation !== this.generation) {
      result.finalize();
      return;
    }
    this.result = result;
    await result.view.data(LINE_DATA, shape.rows).runAsync();
  }

  /** New rows for the same axes (smoothing or the shown runs changed): no re-embedding. */
  async update(data: CompareDataWire, options: LineChartsOptions, hidden: ReadonlySet<string>): Promise<void> {
    const view = this.result?.view;
    if (view === undefined) {
      return;
    }
    await view.data(LINE_DATA, lineShape(data, this.key, options.xAxis, options.smoothing, hidden).rows).runAsync();
  }

  dispose(): void {
    this.generation += 1;
    this.result?.finalize();
    this.result = undefined;
  }
}

export class LineCharts {
  readonly element = element("div", "lines-section");
  private readonly metricSelect = document.createElement("vscode-single-select");
  private readonly xAxisGroup = document.createElement("vscode-radio-group");
  private readonly smoothing = element("input", "smoothing");
  private readonly smoothingValue = element("output", "smoothing-value");
  private readonly legend = element("div", "legend");
  private readonly grid = element("div", "charts");
  private readonly empty = element("p", "empty-state", "These runs logged no metrics.");
  private charts: LineChart[] = [];
  private readonly hidden = new Set<string>();
  private data: CompareDataWire | undefined;
  private options: LineChartsOptions | undefined;
  private readonly observer: IntersectionObserver;

  constructor(
    private readonly events: LineChartsEvents,
    private readonly tooltip: ChartTooltip,
  ) {
    const toolbar = element("div", "toolbar");
    toolbar.setAttribute("role", "group");
    toolbar.setAttribute("aria-label", "Line chart options");
    this.metricSelect.setAttribute("aria-label", "Metric to show");
    this.metricSelect.addEventListener("change", () => events.onMetric(this.metricSelect.value));
    toolbar.append(control("Metric", this.metricSelect), this.buildXAxis(), this.buildSmoothing());
    this.legend.setAttribute("role", "group");
    this.legend.setAttribute("aria-label", "Runs: press to hide or show a run's lines");
    this.element.append(toolbar, this.legend, this.empty, this.grid);
    this.observer = new IntersectionObserver((entries) => this.onVisible(entries), { rootMargin: "200px" });
  }

  /** Rebuilds the charts for new data, or for a new x axis or theme (both change the spec). */
  render(data: CompareDataWire, options: LineChartsOptions): void {
    const newData = data !== this.data;
    this.data = data;
    this.options = options;
    this.syncControls(data, options);
    if (newData) {
      this.hidden.clear();
    }
    this.renderLegend(data, options.colors); // colours follow the theme
    for (const chart of this.charts) {
      this.observer.unobserve(chart.element);
      chart.dispose();
    }
    this.charts = data.metric_keys.map((key) => new LineChart(key));
    this.grid.replaceChildren(...this.charts.map((chart) => chart.element));
    this.empty.hidden = this.charts.length > 0;
    this.applyFilter(options.lineMetric);
    for (const chart of this.charts) {
      this.observer.observe(chart.element);
    }
  }

  /** Smoothing changed: new data for every embedded chart. */
  update(options: LineChartsOptions): void {
    this.options = options;
    this.smoothing.value = String(options.smoothing);
    this.smoothingValue.textContent = options.smoothing.toFixed(2);
    this.refreshData();
  }

  /** Shows one metric's chart (or all); the charts stay embedded. */
  applyFilter(metric: string): void {
    for (const chart of this.charts) {
      chart.element.hidden = metric !== ALL_METRICS && metric !== chart.key;
    }
  }

  private refreshData(): void {
    const { data, options } = this;
    if (data === undefined || options === undefined) {
      return;
    }
    for (const chart of this.charts) {
      void chart.update(data, options, this.hidden).catch((error: unknown) => console.error(`compare: could not update ${chart.key}`, error));
    }
  }

  private onVisible(entries: IntersectionObserverEntry[]): void {
    const { data, options } = this;
    if (data === undefined || options === undefined) {
      return;
    }
    for (const entry of entries) {
      const chart = this.charts.find((one) => one.element === entry.target);
      if (entry.isIntersecting && chart !== undefined && !chart.seen) {
        chart.seen = true;
        this.observer.unobserve(chart.element);
        void chart
          .render(data, options, this.hidden, this.tooltip)
          .catch((error: unknown) => console.error(`compare: could not draw ${chart.key}`, error));
      }
    }
  }

  private syncControls(data: CompareDataWire | undefined, options: LineChartsOptions): void {
    const keys = data?.metric_keys ?? [];
    fillSelect(
      this.metricSelect,
      [{ value: ALL_METRICS, label: "All metrics" }, ...keys.map((key) => ({ value: key, label: key }))],
      keys.includes(options.lineMetric) ? options.lineMetric : ALL_METRICS,
    );
    for (const radio of this.xAxisGroup.querySelectorAll("vscode-radio")) {
      radio.checked = radio.value === options.xAxis;
    }
    this.smoothing.value = String(options.smoothing);
    this.smoothingValue.textContent = options.smoothing.toFixed(2);
  }

  private renderLegend(data: CompareDataWire, colors: ReadonlyMap<string, string>): void {
    this.legend.replaceChildren(
      ...data.runs.map((run) => {
        const button = element("button", "legend-item");
        button.type = "button";
        button.setAttribute("aria-pressed", String(!this.hidden.has(run.run_id)));
        button.title = `${run.run_name || run.run_id} (${run.run_id}): press to hide or show`;
        button.append(swatch(colors.get(run.run_id) ?? ""), element("span", undefined, run.run_name || run.run_id));
        button.addEventListener("click", () => {
          const hide = !this.hidden.has(run.run_id);
          if (hide) {
            this.hidden.add(run.run_id);
          } else {
            this.hidden.delete(run.run_id);
          }
          button.setAttribute("aria-pressed", String(!hide));
          this.refreshData();
        });
        return button;
      }),
    );
  }

  private buildXAxis(): HTMLElement {
    const choices = [
      ["step", "Step"],
      ["relativeTime", "Relative time"],
    ] as const;
    return radioControl(this.xAxisGroup, "X axis", "compare-x-axis", choices, (value) => {
      if (value !== this.options?.xAxis) {
        this.events.onXAxis(value);
      }
    });
  }

  private buildSmoothing(): HTMLElement {
    this.smoothing.type = "range";
    this.smoothing.min = "0";
    this.smoothing.max = String(MAX_SMOOTHING);
    this.smoothing.step = "0.01";
    this.smoothing.setAttribute("aria-label", "Smoothing (exponential moving average weight)");
    let scheduled = false;
    this.smoothing.addEventListener("input", () => {
      this.smoothingValue.textContent = Number(this.smoothing.value).toFixed(2);
      if (!scheduled) {
        scheduled = true;
        requestAnimationFrame(() => {
          scheduled = false;
          this.events.onSmoothing(clampSmoothing(Number(this.smoothing.value)));
        });
      }
    });
    const wrapper = control("Smoothing", this.smoothing);
    wrapper.append(this.smoothingValue);
    return wrapper;
  }
}
