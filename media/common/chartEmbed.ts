// Embeds a Vega-Lite chart the way every webview chart needs it (Compare, Report): Vega's
// expression interpreter (`ast: true`), so the page needs no 'unsafe-eval'; no injected <style>
// (the CSP blocks it); and tooltips drawn by ChartTooltip, whose text goes in with textContent.
// It imports no custom element: a page registers the ones it uses, once.
import { Error as ErrorLevel, Warn as WarnLevel } from "vega";
import embed, { type Result, type VisualizationSpec } from "vega-embed";
import { expressionInterpreter } from "vega-interpreter";
import type { ChartTheme } from "../liveMetrics/vegaTheme";
import { element } from "./dom";

/** One floating tooltip for the page, styled like VS Code's hovers. */
export class ChartTooltip {
  readonly element = element("div", "chart-tooltip");

  constructor() {
    this.element.hidden = true;
    this.element.setAttribute("role", "tooltip");
    document.body.append(this.element);
  }

  /** Vega's tooltip handler: `value` is the encoding's tooltip object (field title to value). */
  readonly handler = (_handler: unknown, event: MouseEvent, _item: unknown, value: unknown): void => {
    if (value === null || value === undefined || value === "") {
      this.element.hidden = true;
      return;
    }
    const entries: [string, unknown][] =
      typeof value === "object" && !Array.isArray(value) ? Object.entries(value) : [["", value]];
    this.element.replaceChildren(
      ...entries.map(([key, text]) => {
        const row = element("div");
        if (key !== "") {
          row.append(element("span", "chart-tooltip-key", key));
        }
        row.append(document.createTextNode(String(text)));
        return row;
      }),
    );
    this.element.hidden = false;
    const gap = 14;
    const width = this.element.offsetWidth;
    const height = this.element.offsetHeight;
    const right = event.clientX + gap;
    const left = right + width > window.innerWidth ? event.clientX - gap - width : right;
    const above = event.clientY - gap - height;
    this.element.style.left = `${Math.max(0, left)}px`;
    this.element.style.top = `${above < 0 ? event.clientY + gap : above}px`;
  };

  hide(): void {
    this.element.hidden = true;
  }
}

export async function embedChart(
  container: HTMLElement,
  spec: VisualizationSpec,
  theme: ChartTheme,
  tooltip: ChartTooltip,
): Promise<Result> {
  const result = await embed(container, spec, {
    actions: false,
    renderer: "canvas",
    config: withTextColors(theme),
    defaultStyle: false,
    tooltip: tooltip.handler,
    ast: true,
    expr: expressionInterpreter,
    logLevel: ErrorLevel,
  });
  result.view.logLevel(WarnLevel);
  return result;
}

/**
 * The shared theme covers axes and lines; the charts also draw text marks, rules (Compare's
 * parallel axes) and colour legends, which would otherwise stay black on a dark theme.
 */
function withTextColors(theme: ChartTheme): ChartTheme["config"] {
  const foreground = cssColor("--vscode-foreground", "#616161");
  return {
    ...theme.config,
    text: { color: foreground },
    rule: { color: foreground },
    legend: { labelColor: foreground, titleColor: foreground },
  };
}

function cssColor(name: string, fallback: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || fallback;
}
