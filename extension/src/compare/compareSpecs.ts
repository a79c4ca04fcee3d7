// The Vega-Lite specs of the Compare panel's charts. Pure data, so a unit test can compile each
// one and run it in Vega with the expression interpreter, as the webview does (no 'unsafe-eval').
// Run colours are an explicit scale (run ids to colours) so every chart matches the table.
import type { TopLevelSpec } from "vega-lite" with { "resolution-mode": "import" };
import { MISSING_POSITION, type ParallelShape } from "./compareParallel";
import type { ScatterShape } from "./compareShape";
import { compareKeys } from "../webview/metricFormat";

/** The named data of a line chart; the webview fills it (and swaps it when smoothing changes). */
export const LINE_DATA = "rows";
const LINE_HEIGHT = 200;
const TALL_HEIGHT = 320;

export interface RunColorScale {
  /** Run ids, in the order of the compare data. */
  domain: string[];
  /** Their colours, in the same order. */
  range: string[];
}

export function lineSpec(key: string, xTitle: string, colors: RunColorScale): TopLevelSpec {
  return {
    description: `${key} of each run by ${xTitle}`,
    width: "container",
    height: LINE_HEIGHT,
    autosize: { type: "fit-x", contains: "padding", resize: true },
    data: { name: LINE_DATA },
    mark: { type: "line", interpolate: "linear", strokeWidth: 1.5, tooltip: true },
    encoding: {
      x: { field: "x", type: "quantitative", title: xTitle },
      y: { field: "y", type: "quantitative", title: null, scale: { zero: false } },
      color: { field: "run_id", type: "nominal", scale: { ...colors }, legend: null },
      tooltip: [{ field: "run_name", type: "nominal", title: "run" }],
    },
  };
}

export function scatterSpec(shape: ScatterShape, param: string, metric: string, colors: RunColorScale): TopLevelSpec {
  const categories = [...new Set(shape.rows.map((row) => String(row.x)))].sort(compareKeys);
  return {
    description: `${metric} against ${param}, one point per run`,
    width: "container",
    height: TALL_HEIGHT,
    autosize: { type: "fit-x", contains: "padding", resize: true },
    data: { values: shape.rows },
    mark: { type: "point", filled: true, size: 70, opacity: 0.85, tooltip: true },
    encoding: {
      x: shape.numeric
        ? { field: "x", type: "quantitative", title: param, scale: { zero: false } }
        : { field: "x", type: "nominal", title: param, sort: categories, axis: { labelLimit: 160 } },
      y: { field: "y", type: "quantitative", title: metric, scale: { zero: false } },
      color: { field: "run_id", type: "nominal", scale: { ...colors }, legend: null },
      tooltip: [
        { field: "run_name", type: "nominal", title: "run" },
        shape.numeric ? { field: "x", type: "quantitative", title: param, format: "" } : { field: "x", type: "nominal", title: param },
        { field: "y", type: "quantitative", title: metric, format: "" },
      ],
    },
  };
}

/**
 * Axis rules, one line per run (grey where the run lacks the colouring metric, so a missing value
 * never gets a colour that means something), and the tick labels computed in compareParallel.ts.
 */
export function parallelSpec(shape: ParallelShape, colorMetric: string, mutedColor: string): TopLevelSpec {
  const labels = shape.axes.map((axis) => axis.label);
  const x = { field: "axis", type: "nominal" as const, scale: { domain: labels }, title: null };
  const yScale = { domain: [MISSING_POSITION - 0.04, 1.02] };
  const y = { field: "y", type: "quantitative" as const, scale: yScale, axis: null };
  const detail = { field: "run_id", type: "nominal" as const };
  const tooltip = [
    { field: "run_name", type: "nominal" as const, title: "run" },
    { field: "axis", type: "nominal" as const, title: "axis" },
    { field: "value", type: "nominal" as const, title: "value" },
  ];
  return {
    description: `Parallel coordinates of ${labels.length} params and metrics, coloured by ${colorMetric}`,
    width: "container",
    height: TALL_HEIGHT,
    autosize: { type: "fit-x", contains: "padding", resize: true },
    layer: [
      {
        data: { values: labels.map((axis) => ({ axis })) },
        mark: { type: "rule", opacity: 0.6 },
        encoding: {
          x: { ...x, axis: { orient: "top", labelAngle: 0, labelLimit: 140, domain: false, ticks: false, grid: false } },
          y: { datum: 0, type: "quantitative", scale: yScale, axis: null },
          y2: { datum: 1 },
        },
      },
      {
        data: { values: shape.rows.filter((row) => row.color === null) },
        mark: { type: "line", strokeWidth: 1.2, opacity: 0.6, color: mutedColor, tooltip: true },
        encoding: { x, y, detail, tooltip },
      },
      {
        data: { values: shape.rows.filter((row) => row.color !== null) },
        mark: { type: "line", strokeWidth: 1.5, opacity: 0.8, tooltip: true },
        encoding: {
          x,
          y,
          detail,
          color: { field: "color", type: "quantitative", title: colorMetric, scale: { scheme: "viridis" } },
          tooltip,
        },
      },
      {
        data: { values: shape.ticks },
        mark: { type: "text", align: "left", dx: 4, fontSize: 10, limit: 120 },
        encoding: { x, y, text: { field: "label", type: "nominal" } },
      },
    ],
  };
}
