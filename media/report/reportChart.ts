// A report's Vega-Lite chart with VS Code's theme, drawn by the chart bundle (chartsApi.ts) once
// the page has painted. A spec without a width fills its card. Charts are tracked so the page
// can tell when all of them are drawn (the first-paint figure) and free them before drawing
// again.
import type { ChartTheme } from "../liveMetrics/vegaTheme";
import { type ChartHandle, loadCharts } from "./chartsApi";
import { element } from "../common/dom";

/** Specs that lay out several views size them by their parts, not by one width. */
const COMPOSITE = ["facet", "repeat", "concat", "hconcat", "vconcat"];

export function fitWidth(spec: Record<string, unknown>): Record<string, unknown> {
  if (spec.width !== undefined || COMPOSITE.some((key) => key in spec)) {
    return spec;
  }
  return { ...spec, width: "container", autosize: spec.autosize ?? { type: "fit-x", contains: "padding" } };
}

/**
 * VS Code themes name six chart colours; a report colours up to eight metrics. The rest come from
 * Vega's Tableau palette (the colours that differ most from those six), so no two series match.
 */
const MORE_COLORS = ["#17becf", "#e377c2", "#8c564b", "#7f7f7f", "#bcbd22"];

export function withMoreColors(theme: ChartTheme): ChartTheme {
  const category = theme.config.range?.category;
  if (!Array.isArray(category)) {
    return theme;
  }
  const colors = [...(category as string[]), ...MORE_COLORS];
  return { ...theme, config: { ...theme.config, range: { ...theme.config.range, category: colors } } };
}

export class ChartTracker {
  private results: ChartHandle[] = [];
  private pending: Promise<unknown>[] = [];

  /** `page`: the page's own <script>, beside which the chart bundle lies. */
  constructor(
    private theme: ChartTheme,
    private readonly page: HTMLScriptElement | null,
  ) {}

  /** A chart card whose plot is drawn once it is in the page (it measures its width). */
  chart(spec: Record<string, unknown>, name: string): HTMLElement {
    const card = element("figure", "chart report-chart");
    const plot = element("div", "chart-plot");
    plot.setAttribute("role", "img");
    plot.setAttribute("aria-label", name);
    card.append(plot);
    // Once the frame that adds the card is painted: the card measures its width, and the
    // tables around it show before Vega compiles and draws (the slow part of a page).
    const drawn = new Promise<void>((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)))
      .then(() => loadCharts(this.page))
      .then((charts) => charts.embed(plot, fitWidth(spec), withMoreColors(this.theme)))
      .then((result) => {
        this.results.push(result);
      })
      .catch((error: unknown) => {
        console.error("report: could not draw a chart", error);
        plot.replaceChildren(element("p", "empty-state", "This chart could not be drawn."));
      });
    this.pending.push(drawn);
    return card;
  }

  /** Resolves once every chart asked for so far is drawn (or failed). */
  async settled(): Promise<void> {
    while (this.pending.length > 0) {
      const pending = this.pending;
      this.pending = [];
      await Promise.all(pending);
    }
  }

  /** Frees every chart (before the page is drawn again). */
  reset(theme: ChartTheme): void {
    this.theme = theme;
    window.mlWorkbenchReportCharts?.hideTooltip();
    for (const result of this.results) {
      result.finalize();
    }
    this.results = [];
    this.pending = [];
  }
}
