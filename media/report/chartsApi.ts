// What the chart bundle (charts.ts → media/dist/reportCharts.js) offers the page, and how the
// page loads it. Vega, Vega-Lite and vega-embed are nine tenths of the page's code: kept out of
// the first bundle, they load after the first paint, so a report's figures and tables show while
// the browser is still compiling the chart code.
import type { ChartTheme } from "../liveMetrics/vegaTheme";

export interface ChartHandle {
  finalize(): void;
}

export interface ReportChartsApi {
  /** Draws a Vega-Lite spec into `container` (see common/chartEmbed.ts for how). */
  embed(container: HTMLElement, spec: Record<string, unknown>, theme: ChartTheme): Promise<ChartHandle>;
  hideTooltip(): void;
}

declare global {
  interface Window {
    mlWorkbenchReportCharts?: ReportChartsApi;
  }
}

let loading: Promise<ReportChartsApi> | undefined;

/**
 * Loads reportCharts.js beside the page's own bundle (`page`: its <script>, whose nonce the
 * policy asks of every script), once.
 */
export function loadCharts(page: HTMLScriptElement | null): Promise<ReportChartsApi> {
  loading ??= new Promise<ReportChartsApi>((resolve, reject) => {
    if (window.mlWorkbenchReportCharts !== undefined) {
      resolve(window.mlWorkbenchReportCharts);
      return;
    }
    if (page === null || page.src === "") {
      reject(new Error("the page's script is unknown, so the chart code cannot be found"));
      return;
    }
    const script = document.createElement("script");
    script.nonce = page.nonce ?? "";
    script.src = page.src.replace(/report\.js([?#].*)?$/, "reportCharts.js$1");
    script.addEventListener("load", () => {
      const api = window.mlWorkbenchReportCharts;
      if (api === undefined) {
        reject(new Error("the chart code loaded but did not start"));
      } else {
        resolve(api);
      }
    });
    script.addEventListener("error", () => reject(new Error(`could not load ${script.src}`)));
    document.head.append(script);
  });
  return loading;
}
