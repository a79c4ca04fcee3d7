// One metric's Vega-Lite line chart. The chart is embedded once (again only when the x axis or
// the theme changes); new points reach it as vega changesets carrying what MetricSeries says
// changed, so a live run never re-embeds. Vega evaluates expressions with vega-interpreter
// (`ast: true`), which needs no 'unsafe-eval' in the webview's Content-Security-Policy.
import { Error as ErrorLevel, Warn as WarnLevel, changeset } from "vega";
import embed, { type Result, type VisualizationSpec } from "vega-embed";
import { expressionInterpreter } from "vega-interpreter";
import type { MetricPoint, XAxis } from "../../extension/src/webview/contract";
import { formatMetricValue } from "../../extension/src/webview/metricFormat";
import type { MetricSeries } from "../../extension/src/webview/metricSeries";
import type { ChartTheme } from "./vegaTheme";

const DATA = "points";
const HEIGHT = 170;
/** Signals holding the hovered point, drawn by the chart's one-point layer. */
const HOVER_X = "hoverX";
const HOVER_Y = "hoverY";

function xField(xAxis: XAxis): "step" | "timestamp" {
  return xAxis === "step" ? "step" : "timestamp";
}

function chartSpec(key: string, xAxis: XAxis): VisualizationSpec {
  const x =
    xAxis === "step"
      ? ({ field: "step", type: "quantitative", title: "step", axis: { tickMinStep: 1 } } as const)
      : ({ field: "timestamp", type: "temporal", title: "wall time", axis: { format: "%H:%M:%S" } } as const);
  return {
    description: `${key} by ${xAxis === "step" ? "step" : "wall time"}`,
    width: "container",
    height: HEIGHT,
    autosize: { type: "fit-x", contains: "padding", resize: true },
    params: [
      { name: HOVER_X, value: null },
      { name: HOVER_Y, value: null },
    ],
    layer: [
      {
        data: { name: DATA },
        // Non-finite values never reach the data, so the per-point validity test can go.
        // Small points too: a metric logged once (most autologged scores) is otherwise invisible.
        mark: { type: "line", interpolate: "linear", invalid: "show", point: { filled: true, size: 18 } },
        encoding: {
          x,
          y: { field: "value", type: "quantitative", title: null, scale: { zero: false } },
        },
      },
      {
        // The hovered point: one mark placed by signals. Vega-Lite's `nearest` selection would
        // do this with a voronoi and expressions per point, which the interpreter makes costly on
        // every update of a live chart; here each update costs nothing and a hover one lookup.
        data: { values: [{}] },
        mark: {
          type: "point",
          filled: true,
          size: 50,
          // Hidden at the origin, not off-plot: autosize would make room for it there.
          x: { expr: `${HOVER_X} === null ? 0 : scale('x', ${HOVER_X})` },
          y: { expr: `${HOVER_Y} === null ? 0 : scale('y', ${HOVER_Y})` },
          opacity: { expr: `${HOVER_X} === null ? 0 : 1` },
          clip: true,
        },
      },
    ],
  };
}

export class MetricChart {
  readonly element = document.createElement("figure");
  private readonly note = document.createElement("span");
  private readonly body = document.createElement("div");
  private readonly plot = document.createElement("div");
  private readonly tooltip = document.createElement("div");
  private result: Result | undefined;
  private xAxis: XAxis = "step";
  /** Bumped by every render(), so an embed that finishes after a newer one is thrown away. */
  private generation = 0;

  constructor(readonly series: MetricSeries) {
    this.element.className = "chart";
    const caption = document.createElement("figcaption");
    const title = document.createElement("span");
    title.className = "chart-title";
    title.textContent = series.key;
    title.title = series.key;
    this.note.className = "chart-note";
    caption.append(title, this.note);
    this.body.className = "chart-body";
    this.plot.setAttribute("role", "img");
    this.tooltip.className = "chart-tooltip";
    this.tooltip.hidden = true;
    this.body.append(this.plot, this.tooltip);
    this.element.append(caption, this.body);
    this.body.addEventListener("pointermove", (event) => this.hover(event));
    this.body.addEventListener("pointerleave", () => this.unhover());
  }

  /** The element whose size the chart follows. */
  get container(): HTMLElement {
    return this.body;
  }

  /** (Re)builds the chart for an x axis and a theme, then draws every point the series holds. */
  async render(theme: ChartTheme, xAxis: XAxis): Promise<void> {
    const generation = ++this.generation;
    this.unhover();
    this.result?.finalize();
    this.result = undefined;
    this.xAxis = xAxis;
    this.plot.replaceChildren();
    this.plot.setAttribute("aria-label", `Line chart of ${this.series.key} by ${xAxis === "step" ? "step" : "wall time"}`);
    const result = await embed(this.plot, chartSpec(this.series.key, xAxis), {
      actions: false,
      renderer: "canvas",
      config: theme.config,
      // vega-embed injects a <style> element unless told not to, which the CSP would block;
      // styles.css has what it needs. Tooltips are this class's own (see hover()).
      defaultStyle: false,
      tooltip: false,
      ast: true,
      expr: expressionInterpreter,
      // An empty chart warns about infinite extents; the points arrive right after.
      logLevel: ErrorLevel,
    });
    if (generation !== this.generation) {
      result.finalize();
      return;
    }
    this.result = result;
    result.view.logLevel(WarnLevel);
    this.series.resetDelta();
    this.flush();
  }

  /** Sends the chart what changed in the series since the last flush. */
  flush(): void {
    const view = this.result?.view;
    if (view === undefined) {
      return; // still embedding: render() flushes when it is done
    }
    const { remove, insert, drawn } = this.series.takeDelta();
    if (remove.length > 0 || insert.length > 0) {
      view.change(DATA, changeset().remove(remove).insert(insert));
      view.runAsync().catch((error: unknown) => console.error("live metrics: chart update failed", error));
    }
    this.note.textContent = this.series.downsampled
      ? `${drawn.toLocaleString("en-US")} of ${this.series.count.toLocaleString("en-US")} points drawn`
      : "";
  }

  set hidden(hidden: boolean) {
    this.element.hidden = hidden;
  }

  dispose(): void {
    this.generation += 1;
    this.result?.finalize();
    this.result = undefined;
    this.element.remove();
  }

  /** Marks the drawn point nearest the pointer along x and lists its values beside it. */
  private hover(event: PointerEvent): void {
    const view = this.result?.view;
    const canvas = this.plot.querySelector("canvas");
    if (view === undefined || canvas === null) {
      return;
    }
    const [originX] = view.origin();
    const scaleX = view.scale("x") as { invert(px: number): number | Date; range(): number[] };
    const px = event.clientX - canvas.getBoundingClientRect().left - originX;
    const [start, end] = scaleX.range();
    if (px < Math.min(start, end) || px > Math.max(start, end)) {
      this.unhover();
      return;
    }
    const target = Number(scaleX.invert(px));
    const field = xField(this.xAxis);
    let nearest: MetricPoint | undefined;
    for (const point of this.series.drawn()) {
      if (nearest === undefined || Math.abs(point[field] - target) < Math.abs(nearest[field] - target)) {
        nearest = point;
      }
    }
    if (nearest === undefined) {
      this.unhover();
      return;
    }
    view.signal(HOVER_X, nearest[field]).signal(HOVER_Y, nearest.value);
    view.runAsync().catch((error: unknown) => console.error("live metrics: hover failed", error));
    this.showTooltip(nearest, event);
  }

  private showTooltip(point: MetricPoint, event: PointerEvent): void {
    const rows: [string, string][] = [
      ["step", String(point.step)],
      ["value", formatMetricValue(point.value)],
      ["time", new Date(point.timestamp).toLocaleString()],
    ];
    this.tooltip.replaceChildren(
      ...rows.map(([name, value]) => {
        const row = document.createElement("div");
        const label = document.createElement("span");
        label.className = "chart-tooltip-key";
        label.textContent = name;
        row.append(label, document.createTextNode(value));
        return row;
      }),
    );
    this.tooltip.hidden = false;
    // Beside the pointer and inside the window. Set through the CSSOM, which the CSP allows (it
    // blocks style attributes in markup, not style properties set by a trusted script).
    const gap = 14;
    const width = this.tooltip.offsetWidth;
    const height = this.tooltip.offsetHeight;
    const right = event.clientX + gap;
    const left = right + width > window.innerWidth ? event.clientX - gap - width : right;
    const above = event.clientY - gap - height;
    this.tooltip.style.left = `${Math.max(0, left)}px`;
    this.tooltip.style.top = `${above < 0 ? event.clientY + gap : above}px`;
  }

  private unhover(): void {
    this.tooltip.hidden = true;
    const view = this.result?.view;
    if (view !== undefined && view.signal(HOVER_X) !== null) {
      view.signal(HOVER_X, null).signal(HOVER_Y, null);
      view.runAsync().catch((error: unknown) => console.error("live metrics: hover failed", error));
    }
  }
}
