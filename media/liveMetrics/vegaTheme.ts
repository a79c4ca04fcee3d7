// Vega config from VS Code's theme colours. VS Code sets its colours as CSS variables on <html>
// and the theme kind as a class on <body>; both change in place when the user switches theme, so
// watchTheme re-reads them and the charts are rebuilt with the new config.
import type { Config } from "vega-lite";

export interface ChartTheme {
  /** Kept whole so a theme change that alters nothing (same colours) rebuilds nothing. */
  key: string;
  config: Config;
  lineColor: string;
}

function cssVariable(style: CSSStyleDeclaration, name: string, fallback: string): string {
  return style.getPropertyValue(name).trim() || fallback;
}

export function readChartTheme(): ChartTheme {
  const style = getComputedStyle(document.documentElement);
  const highContrast =
    document.body.classList.contains("vscode-high-contrast") ||
    document.body.classList.contains("vscode-high-contrast-light");
  const foreground = cssVariable(style, "--vscode-foreground", "#616161");
  const blue = cssVariable(style, "--vscode-charts-blue", "#3794ff");
  const font = cssVariable(style, "--vscode-font-family", "sans-serif");
  const hover = cssVariable(style, "--vscode-charts-orange", "#d18616");
  // Grid and axis lines are the text colour made faint, which reads right on any background;
  // high-contrast themes get them solid.
  const config: Config = {
    background: "transparent",
    font,
    padding: { left: 2, right: 8, top: 6, bottom: 2 },
    view: { stroke: null },
    axis: {
      labelColor: foreground,
      titleColor: foreground,
      labelFont: font,
      titleFont: font,
      labelFontSize: 11,
      titleFontSize: 11,
      titleFontWeight: "normal",
      domainColor: foreground,
      domainOpacity: highContrast ? 1 : 0.4,
      tickColor: foreground,
      tickOpacity: highContrast ? 1 : 0.4,
      gridColor: foreground,
      gridOpacity: highContrast ? 0.35 : 0.12,
      labelFlush: true,
    },
    line: { color: blue, strokeWidth: highContrast ? 2 : 1.5 },
    point: { color: hover },
    range: {
      category: ["blue", "orange", "green", "purple", "red", "yellow"].map((name) =>
        cssVariable(style, `--vscode-charts-${name}`, blue),
      ),
    },
  };
  const key = JSON.stringify([config, document.body.className]);
  return { key, config, lineColor: blue };
}

/** Calls onChange (at most once a frame) when the theme kind or any theme colour changes. */
export function watchTheme(onChange: () => void): MutationObserver {
  let scheduled = false;
  const observer = new MutationObserver(() => {
    if (!scheduled) {
      scheduled = true;
      requestAnimationFrame(() => {
        scheduled = false;
        onChange();
      });
    }
  });
  observer.observe(document.body, { attributes: true, attributeFilter: ["class"] });
  observer.observe(document.documentElement, { attributes: true, attributeFilter: ["style", "class"] });
  return observer;
}
