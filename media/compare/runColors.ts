// The colour each run gets in every Compare chart, from the theme's chart colours.
import type { CompareDataWire } from "../../extension/src/compare/compareContract";
import type { RunColorScale } from "../../extension/src/compare/compareSpecs";

/** Reads the theme's chart colours, which the first runs get (see runColors). */
export function themeRunColors(): string[] {
  const style = getComputedStyle(document.documentElement);
  return ["blue", "orange", "green", "purple", "red", "yellow"]
    .map((name) => style.getPropertyValue(`--vscode-charts-${name}`).trim())
    .filter((color) => color !== "");
}

/** The run-id-to-colour scale every chart uses, so a run looks the same everywhere. */
export function colorScale(data: CompareDataWire, colors: ReadonlyMap<string, string>): RunColorScale {
  const domain = data.runs.map((run) => run.run_id);
  return { domain, range: domain.map((id) => colors.get(id) ?? "gray") };
}
