// Entry point of the Report page's chart bundle (media/dist/reportCharts.js), which main.ts
// loads after the first paint (chartsApi.ts says why). It draws the way the Compare panel does:
// chartEmbed's Vega expression interpreter (no 'unsafe-eval'), no injected styles, tooltips as
// textContent.
import { ChartTooltip, embedChart } from "../common/chartEmbed";
import type { ReportChartsApi } from "./chartsApi";

let tooltip: ChartTooltip | undefined;

const api: ReportChartsApi = {
  async embed(container, spec, theme) {
    tooltip ??= new ChartTooltip();
    const result = await embedChart(container, spec, theme, tooltip);
    return { finalize: () => result.finalize() };
  },
  hideTooltip() {
    tooltip?.hide();
  },
};

window.mlWorkbenchReportCharts = api;
