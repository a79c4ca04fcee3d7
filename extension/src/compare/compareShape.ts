// Turns compare data into what the Compare panel draws: run colours, the params table's columns
// and order, the line charts' rows (smoothed, by step or relative wall time) and the scatter's
// points. Pure code, so the webview stays a thin renderer and this is unit-tested, 120 runs too.
import type { CompareDataWire, CompareRun, CompareSeries, CompareXAxis } from "./compareContract";
import { smoothValues } from "./compareSmoothing";
import { compareKeys } from "../webview/metricFormat";

// ---- colours -------------------------------------------------------------------------------

/**
 * One colour per run, the same in the table's swatches and every chart. The theme's own chart
 * colours come first; past them hues step by the golden angle, which keeps neighbours apart
 * however many runs there are, at a lightness that reads on light and dark backgrounds.
 */
export function runColors(count: number, themeColors: readonly string[]): string[] {
  const colors: string[] = [];
  for (let i = 0; i < count; i++) {
    if (i < themeColors.length) {
      colors.push(themeColors[i]);
    } else {
      const hue = Math.round(((i - themeColors.length) * 137.508 + 17) % 360);
      const lightness = 48 + ((i - themeColors.length) % 3) * 8;
      colors.push(`hsl(${hue}, 65%, ${lightness}%)`);
    }
  }
  return colors;
}

// ---- params table --------------------------------------------------------------------------

export type ColumnKind = "name" | "status" | "param" | "metric";

export interface TableColumn {
  /** Unique across kinds: "name", "status", "param:<key>", "metric:<key>". */
  id: string;
  kind: ColumnKind;
  key: string;
}

export const NAME_COLUMN = "name";

/** The run name and status, then params (only the changed ones when asked), then metrics. */
export function tableColumns(data: CompareDataWire, hideUnchanged: boolean): TableColumn[] {
  const changed = new Set(data.changed_param_keys);
  const params = data.param_keys.filter((key) => !hideUnchanged || changed.has(key));
  return [
    { id: NAME_COLUMN, kind: "name", key: "" },
    { id: "status", kind: "status", key: "" },
    ...params.map((key) => ({ id: `param:${key}`, kind: "param" as const, key })),
    ...data.metric_keys.map((key) => ({ id: `metric:${key}`, kind: "metric" as const, key })),
  ];
}

/** What a cell holds: undefined when the run lacks the param or metric. */
export function cellValue(run: CompareRun, column: TableColumn): string | number | null | undefined {
  switch (column.kind) {
    case "name":
      return run.run_name || run.run_id;
    case "status":
      return run.status;
    case "param":
      return Object.hasOwn(run.params, column.key) ? run.params[column.key] : undefined;
    case "metric":
      return Object.hasOwn(run.metrics, column.key) ? run.metrics[column.key] : undefined;
  }
}

function asNumber(value: string | number | null): number | undefined {
  if (typeof value === "number") {
    return value;
  }
  if (value === null || value.trim() === "") {
    return undefined;
  }
  const parsed = Number(value);
  return Number.isNaN(parsed) ? undefined : parsed;
}

/** Numbers by value (params too: "10" after "9"), other text in natural order. */
function compareCells(a: string | number | null, b: string | number | null): number {
  const x = asNumber(a);
  const y = asNumber(b);
  if (x !== undefined && y !== undefined) {
    return x - y;
  }
  if (x !== undefined || y !== undefined) {
    return x !== undefined ? -1 : 1; // numbers before text
  }
  return compareKeys(String(a), String(b));
}

/**
 * The runs ordered by one column. Runs lacking the value (and non-finite metrics) go last in
 * either direction, and ties keep the server's order, so a sort never hides what it sorts by.
 */
export function sortRuns(runs: readonly CompareRun[], column: TableColumn, descending: boolean): CompareRun[] {
  const keyed = runs.map((run, index) => ({ run, index, value: cellValue(run, column) }));
  const missing = (value: string | number | null | undefined): boolean =>
    value === undefined || value === null || (typeof value === "number" && Number.isNaN(value));
  keyed.sort((a, b) => {
    const aMissing = missing(a.value);
    const bMissing = missing(b.value);
    if (aMissing || bMissing) {
      return aMissing === bMissing ? a.index - b.index : aMissing ? 1 : -1;
    }
    const order = compareCells(a.value ?? null, b.value ?? null);
    return (descending ? -order : order) || a.index - b.index;
  });
  return keyed.map(({ run }) => run);
}

// ---- line charts ---------------------------------------------------------------------------

export interface LineRow {
  run_id: string;
  /** For the tooltip; the same string object on every row of a run, so it costs no memory. */
  run_name: string;
  x: number;
  y: number;
}

export interface LineShape {
  rows: LineRow[];
  xTitle: string;
}

const TIME_UNITS = [
  { limit: 120_000, ms: 1000, title: "seconds since run start" },
  { limit: 7_200_000, ms: 60_000, title: "minutes since run start" },
  { limit: Infinity, ms: 3_600_000, title: "hours since run start" },
] as const;

/** Wall time is relative to each run's start, so runs started days apart overlay. */
function timeOrigin(run: CompareRun | undefined, series: CompareSeries): number {
  return run?.start_time ?? series.timestamps[0] ?? 0;
}

/**
 * The rows of one metric's chart: one per finite point of each shown run, smoothed. Non-finite
 * values are left out (a gap is drawn as a straight join, which Vega-Lite does for a line).
 */
export function lineShape(
  data: CompareDataWire,
  metricKey: string,
  xAxis: CompareXAxis,
  smoothing: number,
  hiddenRuns: ReadonlySet<string> = new Set(),
): LineShape {
  const runs = new Map(data.runs.map((run) => [run.run_id, run]));
  const series = data.series.filter((one) => one.key === metricKey && !hiddenRuns.has(one.run_id));
  let unit: (typeof TIME_UNITS)[number] = TIME_UNITS[0];
  if (xAxis === "relativeTime") {
    let longest = 0;
    for (const one of series) {
      const origin = timeOrigin(runs.get(one.run_id), one);
      for (const timestamp of one.timestamps) {
        longest = Math.max(longest, timestamp - origin);
      }
    }
    unit = TIME_UNITS.find((candidate) => longest < candidate.limit) ?? TIME_UNITS[2];
  }
  const rows: LineRow[] = [];
  for (const one of series) {
    const values = smoothValues(one.values, smoothing);
    const run = runs.get(one.run_id);
    const origin = timeOrigin(run, one);
    const runName = run?.run_name || one.run_id;
    for (let i = 0; i < values.length; i++) {
      const y = values[i];
      if (y === null || !Number.isFinite(y)) {
        continue;
      }
      const x = xAxis === "step" ? one.steps[i] : (one.timestamps[i] - origin) / unit.ms;
      rows.push({ run_id: one.run_id, run_name: runName, x, y });
    }
  }
  return { rows, xTitle: xAxis === "step" ? "step" : unit.title };
}

/** "Downsampled from N points" when the server thinned any series of this metric, else "". */
export function downsampleNote(data: CompareDataWire, metricKey: string): string {
  const thinned = data.series.filter((one) => one.key === metricKey && one.downsampled);
  if (thinned.length === 0) {
    return "";
  }
  const total = thinned.reduce((sum, one) => sum + one.total_points, 0);
  const drawn = thinned.reduce((sum, one) => sum + one.values.length, 0);
  const runs = thinned.length === 1 ? "1 run" : `${thinned.length} runs`;
  return `${runs} downsampled from ${total.toLocaleString("en-US")} points (${drawn.toLocaleString("en-US")} drawn)`;
}

// ---- scatter -------------------------------------------------------------------------------

const NUMBER_TEXT = /^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$/;

/** A param whose every logged value reads as a finite number gets a quantitative axis. */
export function isNumericParam(data: CompareDataWire, key: string): boolean {
  const values = data.runs.filter((run) => Object.hasOwn(run.params, key)).map((run) => run.params[key]);
  return values.length > 0 && values.every((value) => NUMBER_TEXT.test(value));
}

export interface ScatterRow {
  run_id: string;
  run_name: string;
  x: number | string;
  y: number;
}

export interface ScatterShape {
  rows: ScatterRow[];
  numeric: boolean;
  /** Runs left out because they lack the param or a finite value of the metric. */
  skipped: number;
}

export function scatterShape(data: CompareDataWire, paramKey: string, metricKey: string): ScatterShape {
  const numeric = isNumericParam(data, paramKey);
  const rows: ScatterRow[] = [];
  for (const run of data.runs) {
    const param = Object.hasOwn(run.params, paramKey) ? run.params[paramKey] : undefined;
    const y = Object.hasOwn(run.metrics, metricKey) ? run.metrics[metricKey] : null;
    if (param === undefined || y === null || !Number.isFinite(y)) {
      continue;
    }
    rows.push({ run_id: run.run_id, run_name: run.run_name || run.run_id, x: numeric ? Number(param) : param, y });
  }
  return { rows, numeric, skipped: data.runs.length - rows.length };
}
