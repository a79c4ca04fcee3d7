// How metric numbers read in the live metrics table, and the CSV a user exports from it.
// Pure code shared by the webview (table) and the extension (CSV export).
import type { MetricPoint } from "./contract";

/** A value for the table: short enough for a narrow column, with no trailing-zero noise. */
export function formatMetricValue(value: number | null | undefined): string {
  if (value === undefined) {
    return "";
  }
  if (value === null || !Number.isFinite(value)) {
    return "non-finite";
  }
  if (value === 0) {
    return "0";
  }
  const magnitude = Math.abs(value);
  if (Number.isInteger(value) && magnitude < 1e15) {
    return String(value);
  }
  if (magnitude >= 1e6 || magnitude < 1e-4) {
    return value.toExponential(3).replace(/\.?0+e/, "e");
  }
  return String(Number(value.toPrecision(6)));
}

const CSV_HEADER = ["metric", "step", "value", "timestamp_ms", "time_utc"];

/**
 * One quoted-if-needed CSV field. Metric keys come from the training script, so a key that a
 * spreadsheet would run as a formula (=, +, -, @ first) gets a leading apostrophe (OWASP advice).
 */
export function csvField(text: string): string {
  const defused = /^[=+\-@\t\r]/.test(text) ? `'${text}` : text;
  return /[",\r\n]/.test(defused) || defused.trim() !== defused ? `"${defused.replace(/"/g, '""')}"` : defused;
}

/** Every point, grouped by metric and ordered by step, as RFC 4180 CSV. */
export function formatMetricsCsv(points: readonly MetricPoint[]): string {
  const sorted = points
    .map((point, index) => ({ point, index }))
    .sort((a, b) => compareKeys(a.point.key, b.point.key) || a.point.step - b.point.step || a.index - b.index)
    .map(({ point }) => point);
  const rows = sorted.map((point) =>
    [
      csvField(point.key),
      String(point.step),
      String(point.value),
      String(point.timestamp),
      Number.isFinite(point.timestamp) ? new Date(point.timestamp).toISOString() : "",
    ].join(","),
  );
  return [CSV_HEADER.join(","), ...rows].join("\r\n") + "\r\n";
}

/** A file name for the export that no run title can turn into a path. */
export function csvFileName(title: string): string {
  const stem = title
    .replace(/[^\w.-]+/g, "_")
    .replace(/^[._-]+/, "")
    .slice(0, 80);
  return `${stem || "run"}-metrics.csv`;
}

/** Metric keys in the order the table and the charts list them. */
export function compareKeys(a: string, b: string): number {
  return a.localeCompare(b, undefined, { numeric: true, sensitivity: "base" }) || (a < b ? -1 : a > b ? 1 : 0);
}
