// Metric against param: pick a param (x) and a metric (y); each run is one point in its colour.
// A param whose every value is a number gets a quantitative axis, any other a nominal one in
// natural order. At most 100-odd points, so the chart is simply rebuilt on each choice.
import "@vscode-elements/elements/dist/vscode-single-select/index.js";
import type { Result } from "vega-embed";
import type { CompareDataWire } from "../../extension/src/compare/compareContract";
import { scatterShape } from "../../extension/src/compare/compareShape";
import { scatterSpec } from "../../extension/src/compare/compareSpecs";
import type { ChartTheme } from "../liveMetrics/vegaTheme";
import { type ChartTooltip, embedChart } from "../common/chartEmbed";
import { colorScale } from "./runColors";
import { control, element, fillSelect } from "./dom";

export interface ScatterEvents {
  onParam(param: string): void;
  onMetric(metric: string): void;
}

export interface ScatterOptions {
  param: string;
  metric: string;
  colors: ReadonlyMap<string, string>;
  theme: ChartTheme;
}

export class ScatterChart {
  readonly element = element("div", "scatter-section");
  private readonly paramSelect = document.createElement("vscode-single-select");
  private readonly metricSelect = document.createElement("vscode-single-select");
  private readonly note = element("p", "section-note");
  private readonly plot = element("div", "chart-plot scatter-plot");
  private result: Result | undefined;
  private generation = 0;

  constructor(
    events: ScatterEvents,
    private readonly tooltip: ChartTooltip,
  ) {
    const toolbar = element("div", "toolbar");
    toolbar.setAttribute("role", "group");
    toolbar.setAttribute("aria-label", "Scatter options");
    this.paramSelect.setAttribute("aria-label", "Param on the x axis");
    this.metricSelect.setAttribute("aria-label", "Metric on the y axis");
    this.paramSelect.addEventListener("change", () => events.onParam(this.paramSelect.value));
    this.metricSelect.addEventListener("change", () => events.onMetric(this.metricSelect.value));
    toolbar.append(control("Param (x)", this.paramSelect), control("Metric (y)", this.metricSelect));
    this.plot.setAttribute("role", "img");
    this.element.append(toolbar, this.note, this.plot);
  }

  async render(data: CompareDataWire, options: ScatterOptions): Promise<void> {
    const generation = ++this.generation;
    fillSelect(this.paramSelect, data.param_keys.map((key) => ({ value: key, label: key })), options.param);
    fillSelect(this.metricSelect, data.metric_keys.map((key) => ({ value: key, label: key })), options.metric);
    this.result?.finalize();
    this.result = undefined;
    this.plot.replaceChildren();
    if (options.param === "" || options.metric === "") {
      this.note.textContent = data.param_keys.length === 0 ? "These runs logged no params." : "These runs logged no metrics.";
      return;
    }
    const shape = scatterShape(data, options.param, options.metric);
    this.note.textContent =
      shape.skipped > 0
        ? `${shape.skipped} of ${data.runs.length} runs left out: they lack ${options.param} or a finite ${options.metric}.`
        : "";
    this.plot.setAttribute("aria-label", `Scatter of ${options.metric} against ${options.param} for ${shape.rows.length} runs`);
    const spec = scatterSpec(shape, options.param, options.metric, colorScale(data, options.colors));
    const result = await embedChart(this.plot, spec, options.theme, this.tooltip);
    if (generation !== this.generation) {
      result.finalize();
      return;
    }
    this.result = result;
  }
}
