// The parallel coordinates of the Compare panel, shaped in plain code: one axis per changed param
// and chosen metric, each scaled to [0, 1] on its own. Params mix numbers and text ("adam",
// "sgd"), so each axis is numeric (min to max) or categorical (evenly spaced, natural order);
// doing that here rather than in Vega-Lite transforms keeps the chart spec expression-free and
// lets the unit tests check every position. A run lacking a value sits on a "(none)" line below.
import type { CompareDataWire } from "./compareContract";
import { isNumericParam } from "./compareShape";
import { compareKeys, formatMetricValue } from "../webview/metricFormat";

/** Where a missing value is drawn, below the axis's 0. */
export const MISSING_POSITION = -0.12;
/** The most labels a categorical axis shows; past it only every n-th category is labelled. */
const MAX_CATEGORY_LABELS = 12;

export interface ParallelAxis {
  /** Unique: metrics that share a param's key are shown as "<key> (metric)". */
  label: string;
  kind: "param" | "metric";
  key: string;
  numeric: boolean;
}

export interface ParallelRow {
  run_id: string;
  run_name: string;
  axis: string;
  /** Position on the axis, 0 to 1, or MISSING_POSITION. */
  y: number;
  /** The value as the table shows it, for the tooltip. */
  value: string;
  /** The colouring metric's value for this run (the same on each of its rows). */
  color: number | null;
}

export interface ParallelTick {
  axis: string;
  y: number;
  label: string;
}

export interface ParallelShape {
  axes: ParallelAxis[];
  rows: ParallelRow[];
  ticks: ParallelTick[];
}

type RawValue = string | number | null | undefined;

function rawValue(data: CompareDataWire, runIndex: number, axis: ParallelAxis): RawValue {
  const run = data.runs[runIndex];
  const values: Record<string, string | number | null> = axis.kind === "param" ? run.params : run.metrics;
  return Object.hasOwn(values, axis.key) ? values[axis.key] : undefined;
}

function present(value: RawValue): value is string | number {
  return value !== undefined && value !== null && (typeof value === "string" || Number.isFinite(value));
}

/** Positions and labels of one numeric axis; a single value sits in the middle. */
function numericAxis(values: RawValue[]): { place(value: string | number): number; ticks: [number, string][] } {
  const numbers = values.filter(present).map(Number);
  const min = numbers.length > 0 ? Math.min(...numbers) : 0;
  const max = numbers.length > 0 ? Math.max(...numbers) : 0;
  if (numbers.length === 0) {
    return { place: () => 0.5, ticks: [] };
  }
  if (max === min) {
    return { place: () => 0.5, ticks: [[0.5, formatMetricValue(min)]] };
  }
  return {
    place: (value) => (Number(value) - min) / (max - min),
    ticks: [
      [0, formatMetricValue(min)],
      [1, formatMetricValue(max)],
    ],
  };
}

function categoricalAxis(values: RawValue[]): { place(value: string | number): number; ticks: [number, string][] } {
  const categories = [...new Set(values.filter(present).map(String))].sort(compareKeys);
  const position = new Map(categories.map((category, i) => [category, categories.length === 1 ? 0.5 : i / (categories.length - 1)]));
  const every = Math.ceil(categories.length / MAX_CATEGORY_LABELS);
  const ticks = categories
    .filter((_, i) => i % every === 0 || i === categories.length - 1)
    .map((category): [number, string] => [position.get(category) ?? 0.5, category]);
  return { place: (value) => position.get(String(value)) ?? 0.5, ticks };
}

/** The axes: the changed params (in the server's order), then the chosen metrics that exist. */
export function parallelAxes(data: CompareDataWire, metricKeys: readonly string[]): ParallelAxis[] {
  const params = data.changed_param_keys.map((key) => ({
    label: key,
    kind: "param" as const,
    key,
    numeric: isNumericParam(data, key),
  }));
  const taken = new Set(params.map((axis) => axis.label));
  const known = new Set(data.metric_keys);
  const metrics = [...new Set(metricKeys)]
    .filter((key) => known.has(key))
    .map((key) => ({ label: taken.has(key) ? `${key} (metric)` : key, kind: "metric" as const, key, numeric: true }));
  return [...params, ...metrics];
}

export function parallelShape(data: CompareDataWire, metricKeys: readonly string[], colorMetric: string): ParallelShape {
  const axes = parallelAxes(data, metricKeys);
  const rows: ParallelRow[] = [];
  const ticks: ParallelTick[] = [];
  const colors = data.runs.map((run) => {
    const value = Object.hasOwn(run.metrics, colorMetric) ? run.metrics[colorMetric] : null;
    return value !== null && Number.isFinite(value) ? value : null;
  });
  for (const axis of axes) {
    const values = data.runs.map((_, runIndex) => rawValue(data, runIndex, axis));
    const scale = axis.numeric ? numericAxis(values) : categoricalAxis(values);
    for (const [y, label] of scale.ticks) {
      ticks.push({ axis: axis.label, y, label });
    }
    if (values.some((value) => !present(value))) {
      ticks.push({ axis: axis.label, y: MISSING_POSITION, label: "(none)" });
    }
    data.runs.forEach((run, runIndex) => {
      const value = values[runIndex];
      const shown = present(value);
      rows.push({
        run_id: run.run_id,
        run_name: run.run_name || run.run_id,
        axis: axis.label,
        y: shown ? scale.place(value) : MISSING_POSITION,
        value: value === undefined ? "(none)" : typeof value === "string" ? value : formatMetricValue(value),
        color: colors[runIndex],
      });
    });
  }
  return { axes, rows, ticks };
}
