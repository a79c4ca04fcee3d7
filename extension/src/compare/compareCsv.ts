// The CSV the Compare panel exports: one row per run with every param and the latest value of
// every metric, columns named `params.<key>` / `metrics.<key>` like MLflow's search_runs frame
// (so a param and a metric with the same key cannot collide). Pure code, unit-tested.
import type { CompareDataWire } from "./compareContract";

export const COMPARE_CSV_FILE_NAME = "runs-compare.csv";

/** A number as the field's whole text is no formula, even with a leading minus or plus. */
const PLAIN_NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/**
 * One RFC 4180 field. Names and params come from training scripts, so text a spreadsheet would
 * run as a formula (=, +, -, @, tab or CR first) gets a leading apostrophe (OWASP's advice);
 * plain numbers such as "-0.5" are left alone so they stay numbers.
 */
export function compareCsvField(text: string): string {
  const defused = /^[=+\-@\t\r]/.test(text) && !PLAIN_NUMBER.test(text) ? `'${text}` : text;
  return /[",\r\n]/.test(defused) || defused.trim() !== defused ? `"${defused.replace(/"/g, '""')}"` : defused;
}

function metricText(value: number | null | undefined): string {
  if (value === undefined) {
    return "";
  }
  // JSON brought a non-finite value as null; spreadsheets read NaN.
  return value === null || !Number.isFinite(value) ? "NaN" : String(value);
}

function timeText(start: number | null): string {
  return start === null ? "" : new Date(start).toISOString();
}

/** Every run of `data` as CSV with CRLF line ends; a value a run lacks is an empty field. */
export function formatCompareCsv(data: CompareDataWire): string {
  const header = [
    "run_id",
    "run_name",
    "experiment_name",
    "status",
    "start_time",
    ...data.param_keys.map((key) => `params.${key}`),
    ...data.metric_keys.map((key) => `metrics.${key}`),
  ];
  const rows = data.runs.map((run) => [
    run.run_id,
    run.run_name,
    run.experiment_name,
    run.status,
    timeText(run.start_time),
    ...data.param_keys.map((key) => run.params[key] ?? ""),
    ...data.metric_keys.map((key) => metricText(run.metrics[key])),
  ]);
  return [header, ...rows].map((row) => row.map(compareCsvField).join(",")).join("\r\n") + "\r\n";
}
