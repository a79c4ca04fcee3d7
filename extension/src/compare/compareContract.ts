// The typed message contract between the Compare panel's webview and the extension, and the
// compare data both sides read. The webview bundle, the extension and the unit tests all import
// this file, so a renamed message or field breaks the build on both sides; the guards check what
// crosses the boundary because neither side trusts the other's input blindly. Type imports only.

import type { CompareData, CompareRun, MetricSeries } from "../protocol";

// The shapes are the server's (generated from mlworkbench.explorer.run_compare): one run's row (params as
// logged, latest metrics; JSON has no NaN/Infinity, so a non-finite value arrives as null), one
// metric's history per run (downsampled by the server when long), and the whole comparison.
export type { CompareRun };
export type CompareSeries = MetricSeries;
export type CompareDataWire = CompareData;

export enum CompareWebviewMessageType {
  /** The webview has loaded and listens: the extension (re)sends what it has. */
  READY = "ready",
  /** The user asked to save the table (every param and latest metric of each run) as CSV. */
  EXPORT_CSV = "exportCsv",
  /** The user asked to load the runs again after an error. */
  RETRY = "retry",
}

export enum CompareHostMessageType {
  LOADING = "loading",
  DATA = "data",
  ERROR = "error",
}

export type CompareWebviewMessage =
  | { type: CompareWebviewMessageType.READY }
  | { type: CompareWebviewMessageType.EXPORT_CSV }
  | { type: CompareWebviewMessageType.RETRY };

export type CompareHostMessage =
  | { type: CompareHostMessageType.LOADING; runCount: number }
  | { type: CompareHostMessageType.DATA; data: CompareDataWire }
  /** `retryable` is false when loading again cannot help (too few runs chosen, say). */
  | { type: CompareHostMessageType.ERROR; message: string; retryable: boolean };

export const COMPARE_TABS = ["params", "lines", "scatter", "parallel"] as const;
export type CompareTab = (typeof COMPARE_TABS)[number];

export const COMPARE_X_AXES = ["step", "relativeTime"] as const;
export type CompareXAxis = (typeof COMPARE_X_AXES)[number];

export const MAX_SMOOTHING = 0.99;

/** The user's view choices, kept by the webview across reloads with `vscode.setState`. */
export interface CompareViewState {
  tab: CompareTab;
  hideUnchanged: boolean;
  /** A column key of the params table ("" for the run name), and its direction. */
  sortColumn: string;
  sortDescending: boolean;
  xAxis: CompareXAxis;
  smoothing: number;
  /** The metric drawn alone in the line charts, or "" for all of them. */
  lineMetric: string;
  scatterParam: string;
  scatterMetric: string;
  /** The metrics that get axes in the parallel coordinates; the first colours the lines. */
  parallelMetrics: string[];
  colorMetric: string;
}

export function defaultViewState(): CompareViewState {
  return {
    tab: "params",
    hideUnchanged: true,
    sortColumn: "",
    sortDescending: false,
    xAxis: "step",
    smoothing: 0,
    lineMetric: "",
    scatterParam: "",
    scatterMetric: "",
    parallelMetrics: [],
    colorMetric: "",
  };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function oneOf<T extends string>(options: readonly T[], value: unknown): value is T {
  return typeof value === "string" && (options as readonly string[]).includes(value);
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((item) => typeof item === "string");
}

function isFiniteNumber(value: unknown): value is number {
  return typeof value === "number" && Number.isFinite(value);
}

function isMetricValue(value: unknown): value is number | null {
  return value === null || typeof value === "number";
}

function isRecordOf<T>(value: unknown, item: (entry: unknown) => entry is T): value is Record<string, T> {
  return isRecord(value) && Object.values(value).every(item);
}

function isString(value: unknown): value is string {
  return typeof value === "string";
}

export function isCompareRun(value: unknown): value is CompareRun {
  return (
    isRecord(value) &&
    typeof value.run_id === "string" &&
    typeof value.run_name === "string" &&
    typeof value.experiment_name === "string" &&
    typeof value.status === "string" &&
    (value.start_time === null || isFiniteNumber(value.start_time)) &&
    isRecordOf(value.params, isString) &&
    isRecordOf(value.metrics, isMetricValue)
  );
}

export function isCompareSeries(value: unknown): value is CompareSeries {
  if (
    !isRecord(value) ||
    typeof value.run_id !== "string" ||
    typeof value.key !== "string" ||
    !Array.isArray(value.steps) ||
    !Array.isArray(value.timestamps) ||
    !Array.isArray(value.values) ||
    !isFiniteNumber(value.total_points) ||
    typeof value.downsampled !== "boolean"
  ) {
    return false;
  }
  const { steps, timestamps, values } = value;
  return (
    steps.length === values.length &&
    timestamps.length === values.length &&
    steps.every(isFiniteNumber) &&
    timestamps.every(isFiniteNumber) &&
    values.every(isMetricValue)
  );
}

/** Checks the whole payload: it is drawn and exported field by field, so every field counts. */
export function isCompareData(value: unknown): value is CompareDataWire {
  if (
    !isRecord(value) ||
    !Array.isArray(value.runs) ||
    !isStringArray(value.param_keys) ||
    !isStringArray(value.changed_param_keys) ||
    !isStringArray(value.metric_keys) ||
    !Array.isArray(value.series)
  ) {
    return false;
  }
  if (!value.runs.every(isCompareRun) || !value.series.every(isCompareSeries)) {
    return false;
  }
  const runIds = new Set(value.runs.map((run) => run.run_id));
  // Colours and rows are keyed by run id: a duplicate or an orphan series would mislabel a line.
  return runIds.size === value.runs.length && value.series.every((series) => runIds.has(series.run_id));
}

/** Validates a message from the webview, which runs third-party chart code and is not trusted. */
export function isCompareWebviewMessage(value: unknown): value is CompareWebviewMessage {
  return isRecord(value) && Object.keys(value).length === 1 && oneOf(Object.values(CompareWebviewMessageType), value.type);
}

/** Validates a message from the extension before the webview acts on it. */
export function isCompareHostMessage(value: unknown): value is CompareHostMessage {
  if (!isRecord(value)) {
    return false;
  }
  switch (value.type) {
    case CompareHostMessageType.LOADING:
      return isFiniteNumber(value.runCount) && value.runCount >= 0;
    case CompareHostMessageType.DATA:
      return isCompareData(value.data);
    case CompareHostMessageType.ERROR:
      return typeof value.message === "string" && typeof value.retryable === "boolean";
    default:
      return false;
  }
}

export function isCompareViewState(value: unknown): value is CompareViewState {
  return (
    isRecord(value) &&
    oneOf(COMPARE_TABS, value.tab) &&
    typeof value.hideUnchanged === "boolean" &&
    typeof value.sortColumn === "string" &&
    typeof value.sortDescending === "boolean" &&
    oneOf(COMPARE_X_AXES, value.xAxis) &&
    isFiniteNumber(value.smoothing) &&
    value.smoothing >= 0 &&
    value.smoothing <= MAX_SMOOTHING &&
    typeof value.lineMetric === "string" &&
    typeof value.scatterParam === "string" &&
    typeof value.scatterMetric === "string" &&
    isStringArray(value.parallelMetrics) &&
    typeof value.colorMetric === "string"
  );
}
