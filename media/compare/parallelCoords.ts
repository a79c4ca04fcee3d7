// Parallel coordinates: one vertical axis per changed param and chosen metric, one line per run,
// coloured by one metric. Positions are computed in compareParallel.ts (axes mix numbers and
// categories) and the spec (compareSpecs.ts) draws only what it is given.
import "@vscode-elements/elements/dist/vscode-multi-select/index.js";
import "@vscode-elements/elements/dist/vscode-single-select/index.js";
import type { Result } from "vega-embed";
import type { CompareDataWire } from "../../extension/src/compare/compareContract";
import { parallelShape } from "../../extension/src/compare/compareParallel";
import { parallelSpec } from "../../extension/src/compare/compareSpecs";
import type { ChartTheme } from "../liveMetrics/vegaTheme";
import { type ChartTooltip, embedChart } from "../common/chartEmbed";
import { control, element, fillSelect } from "./dom";

export interface ParallelEvents {
  onMetrics(metrics: string[]): void;
  onColorMetric(metric: string): void;
}

export interface ParallelOptions {
  metrics: string[];
  colorMetric: string;
  theme: ChartTheme;
  /** A neutral colour for runs without the colouring metric. */
  mutedColor: string;
}

export class ParallelCoords {
  readonly element = element("div", "parallel-section");
  private readonly metricsSelect = document.createElement("vscode-multi-select");
  private readonly colorSelect = document.createElement("vscode-single-select");
  private readonly note = element("p", "section-note");
  private readonly plot = element("div", "chart-plot parallel-plot");
  private result: Result | undefined;
  private generation = 0;

  constructor(
    events: ParallelEvents,
    private readonly tooltip: ChartTooltip,
  ) {
    const toolbar = element("div", "toolbar");
    toolbar.setAttribute("role", "group");
    toolbar.setAttribute("aria-label", "Parallel coordinates options");
    this.metricsSelect.setAttribute("aria-label", "Metrics that get an axis");
    this.colorSelect.setAttribute("aria-label", "Metric that colours the lines");
    this.metricsSelect.addEventListener("change", () => events.onMetrics([...this.metricsSelect.value]));
    this.colorSelect.addEventListener("change", () => events.onColorMetric(this.colorSelect.value));
    toolbar.append(control("Metric axes", this.metricsSelect), control("Colour by", this.colorSelect));
    this.plot.setAttribute("role", "img");
    this.element.append(toolbar, this.note, this.plot);
  }

  async render(data: CompareDataWire, options: ParallelOptions): Promise<void> {
    const generation = ++this.generation;
    this.fillMetrics(data, options.metrics);
    fillSelect(this.colorSelect, data.metric_keys.map((key) => ({ value: key, label: key })), options.colorMetric);
    this.result?.finalize();
    this.result = undefined;
    this.plot.replaceChildren();
    const shape = parallelShape(data, options.metrics, options.colorMetric);
    if (shape.axes.length < 2) {
      this.note.textContent = "Needs two axes or more: these runs differ in too few params, and too few metrics are chosen.";
      return;
    }
    this.note.textContent =
      data.changed_param_keys.length === 0 ? "No param differs between these runs: only metrics have axes." : "";
    this.plot.setAttribute(
      "aria-label",
      `Parallel coordinates of ${data.runs.length} runs over ${shape.axes.map((axis) => axis.label).join(", ")}`,
    );
    const result = await embedChart(this.plot, parallelSpec(shape, options.colorMetric, options.mutedColor), options.theme, this.tooltip);
    if (generation !== this.generation) {
      result.finalize();
      return;
    }
    this.result = result;
  }

  private fillMetrics(data: CompareDataWire, chosen: readonly string[]): void {
    const picked = new Set(chosen);
    this.metricsSelect.replaceChildren(
      ...data.metric_keys.map((key) => {
        const option = document.createElement("vscode-option");
        option.value = key;
        option.textContent = key;
        option.selected = picked.has(key);
        return option;
      }),
    );
  }
}
