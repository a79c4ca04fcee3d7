// What the user reads when a sweep ends or fails: one line with the best trial, the trials'
// run ids for Compare, and the fix that goes with a failure's code. Pure, so it is
// unit-tested; sweepCommands.ts shows it.
import { ErrorCodes, type StartSweepResult, type SweepTrial } from "../protocol";

export interface SweepSummary {
  message: string;
  /** The runs of the trials that ran, in trial order: what Compare Trials opens. */
  trialRunIds: string[];
  severity: "info" | "warning";
}

export type SweepFix = { kind: "manageTrust" | "setupEnvironment" | "showOutput"; label: string };

export interface SweepFailure {
  message: string;
  fixes: SweepFix[];
}

function describeValues(values: SweepTrial["values"]): string {
  return Object.entries(values)
    .map(([name, value]) => `${name}=${String(value)}`)
    .join(" ");
}

function formatMetric(value: number): string {
  return Number.isInteger(value) ? String(value) : value.toPrecision(4).replace(/\.?0+$/, "");
}

function counts(trials: SweepTrial[]): string {
  const by = new Map<string, number>();
  for (const trial of trials) {
    by.set(trial.status, (by.get(trial.status) ?? 0) + 1);
  }
  const order = ["FINISHED", "FAILED", "KILLED", "NOT_RUN"];
  return order
    .filter((status) => by.has(status))
    .map((status) => `${by.get(status) ?? 0} ${status.toLowerCase().replace("_", " ")}`)
    .join(", ");
}

/** The end-of-sweep message and the runs to compare. */
export function sweepSummary(result: StartSweepResult): SweepSummary {
  const trialRunIds = result.trials.map((trial) => trial.runId).filter((id): id is string => typeof id === "string");
  const total = result.trials.length;
  if (result.status === "FAILED") {
    const failed = result.trials.find((trial) => trial.error);
    const why = failed?.error ? ` Trial ${failed.index}: ${lastLine(failed.error)}` : "";
    return { message: `Sweep failed: every one of ${total} trials failed.${why}`, trialRunIds, severity: "warning" };
  }
  let best = "";
  if (result.best && result.metric && result.best.metric !== null) {
    best = ` Best: trial ${result.best.index} ${describeValues(result.best.values)} (${result.metric}=${formatMetric(result.best.metric)}).`;
  } else if (result.metric) {
    best = ` No finished trial logged ${result.metric}.`;
  }
  const severity = result.trials.some((trial) => trial.status !== "FINISHED") ? "warning" : "info";
  return { message: `Sweep finished: ${counts(result.trials)} of ${total} trials.${best}`, trialRunIds, severity };
}

/** One line per trial for the output channel, in trial order. */
export function trialLines(result: StartSweepResult): string[] {
  return result.trials.map((trial) => {
    const metric = result.metric && trial.metric !== null ? ` ${result.metric}=${formatMetric(trial.metric)}` : "";
    const run = trial.runId ? ` (run ${trial.runId})` : "";
    const error = trial.status !== "FINISHED" && trial.error ? ` — ${lastLine(trial.error)}` : "";
    return `trial ${trial.index} ${describeValues(trial.values)}: ${trial.status}${metric}${run}${error}`;
  });
}

function lastLine(text: string): string {
  const lines = text
    .split("\n")
    .map((line) => line.trim())
    .filter(Boolean);
  return (lines[lines.length - 1] ?? "").slice(0, 200);
}

interface ServerError {
  code?: unknown;
  message?: unknown;
  data?: unknown;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Whether a failed startSweep is the answer to the user's own cancel: nothing to show. */
export function isSweepCancellation(error: unknown): boolean {
  if (!isRecord(error)) {
    return false;
  }
  if (error.code === -32800 || error.code === -32799) {
    return true;
  }
  return error.code === ErrorCodes.SWEEP_FAILED && isRecord(error.data) && error.data.cancelled === true;
}

/** The message and the fix for a failed startSweep, by its code (never its text). */
export function sweepFailure(error: unknown): SweepFailure {
  const { code, message } = (isRecord(error) ? error : {}) as ServerError;
  const text = typeof message === "string" && message.trim() !== "" ? message.trim() : String(error);
  switch (code) {
    case ErrorCodes.UNTRUSTED_WORKSPACE:
      return { message: text, fixes: [{ kind: "manageTrust", label: "Manage Workspace Trust" }] };
    case ErrorCodes.MISSING_PACKAGE:
      return { message: text, fixes: [{ kind: "setupEnvironment", label: "Set up Environment" }] };
    case ErrorCodes.SWEEP_FAILED:
    case ErrorCodes.RUN_START_FAILED:
      return { message: text.split("\n")[0] ?? text, fixes: [{ kind: "showOutput", label: "Show Output" }] };
    default:
      return { message: text, fixes: [] };
  }
}

/** The output the child left (SWEEP_FAILED's data), for the output channel. */
export function failureOutput(error: unknown): string {
  if (isRecord(error) && isRecord(error.data) && typeof error.data.output === "string") {
    return error.data.output;
  }
  return "";
}
