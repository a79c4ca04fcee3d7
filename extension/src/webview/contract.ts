// The typed message contract between the live metrics webview and the extension. Both bundles
// import this one file, so a renamed message or field breaks the build on both sides; the type
// guards check what crosses the boundary, since neither side trusts the other's input blindly.
// No imports: the webview bundle, the extension and the unit tests all load it.

export const RUN_STATUSES = ["RUNNING", "FINISHED", "FAILED", "KILLED"] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

export const X_AXES = ["step", "time"] as const;
export type XAxis = (typeof X_AXES)[number];

/** One logged value of one metric, as the extension receives it from the language server. */
export interface MetricPoint {
  key: string;
  value: number;
  step: number;
  /** Milliseconds since the epoch, as MLflow records it. */
  timestamp: number;
}

/**
 * A metric point on the wire. JSON has no NaN or Infinity (they arrive as null), and MLflow does
 * log NaN losses, so a non-finite value travels as null: plotted as a gap, listed as "non-finite".
 */
export interface WireMetricPoint {
  key: string;
  value: number | null;
  step: number;
  timestamp: number;
}

export enum WebviewMessageType {
  /** The webview has loaded and listens: the extension (re)sends init, every point, the status. */
  READY = "ready",
  /** The user asked to save every point of the run as CSV. */
  EXPORT_CSV = "exportCsv",
}

export enum ExtensionMessageType {
  /** Resets the webview: every point sent before it is forgotten. */
  INIT = "init",
  POINTS = "points",
  STATUS = "status",
}

export type WebviewMessage = { type: WebviewMessageType.READY } | { type: WebviewMessageType.EXPORT_CSV };

export type ExtensionMessage =
  | { type: ExtensionMessageType.INIT; runId: string; title: string }
  | { type: ExtensionMessageType.POINTS; points: WireMetricPoint[] }
  | { type: ExtensionMessageType.STATUS; status: RunStatus; detail?: string };

/** What the webview keeps across reloads with `vscode.setState`; also what a panel revives from. */
export interface LiveMetricsState {
  runId: string;
  title: string;
  xAxis: XAxis;
  /** The metric shown alone, or "" for all of them. */
  metric: string;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function oneOf<T extends string>(options: readonly T[], value: unknown): value is T {
  return typeof value === "string" && (options as readonly string[]).includes(value);
}

/** Validates a message from the webview, which runs third-party chart code and is not trusted. */
export function isWebviewMessage(value: unknown): value is WebviewMessage {
  return (
    isRecord(value) &&
    Object.keys(value).length === 1 &&
    oneOf(Object.values(WebviewMessageType), value.type)
  );
}

export function isWireMetricPoint(value: unknown): value is WireMetricPoint {
  return (
    isRecord(value) &&
    typeof value.key === "string" &&
    (value.value === null || typeof value.value === "number") &&
    typeof value.step === "number" &&
    Number.isFinite(value.step) &&
    typeof value.timestamp === "number" &&
    Number.isFinite(value.timestamp)
  );
}

/** Validates a message from the extension before the webview acts on it. */
export function isExtensionMessage(value: unknown): value is ExtensionMessage {
  if (!isRecord(value)) {
    return false;
  }
  switch (value.type) {
    case ExtensionMessageType.INIT:
      return typeof value.runId === "string" && typeof value.title === "string";
    case ExtensionMessageType.POINTS:
      return Array.isArray(value.points) && value.points.every(isWireMetricPoint);
    case ExtensionMessageType.STATUS:
      return oneOf(RUN_STATUSES, value.status) && (value.detail === undefined || typeof value.detail === "string");
    default:
      return false;
  }
}

export function isLiveMetricsState(value: unknown): value is LiveMetricsState {
  return (
    isRecord(value) &&
    typeof value.runId === "string" &&
    typeof value.title === "string" &&
    oneOf(X_AXES, value.xAxis) &&
    typeof value.metric === "string"
  );
}

export function toWirePoint(point: MetricPoint): WireMetricPoint {
  const { key, value, step, timestamp } = point;
  return { key, value: Number.isFinite(value) ? value : null, step, timestamp };
}
