// The Sweep… form's decisions, pure so they are unit-tested: how a declared parameter is shown,
// which comma-separated values it accepts (the CLI checks again; this catches typos while the
// user types), the concurrency and metric choices, and the startSweep request they make.
// sweepCommands.ts asks the questions.
import type { ScriptParameter, StartSweepParams } from "../protocol";

/** What the form gathered, before the request is made of it. */
export interface SweepChoices {
  /** Each swept parameter's values, in the order they were picked (the first varies slowest). */
  swept: { name: string; values: string[] }[];
  maxConcurrent: number;
  metric?: string;
  mode?: "min" | "max";
  /** A Ray cluster's address: the trials run there as jobs (absent: this machine). */
  targetAddress?: string;
}

/** The startSweep request without the parts the command fills in (workspace, job, script). */
export type SweepRequest = Omit<StartSweepParams, "workspaceUri" | "jobId" | "uri">;

export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

const BOOL_WORDS = new Set(["true", "false", "1", "0", "yes", "no", "on", "off"]);
const PYTHON_FLOAT_WORDS = /^[+-]?(inf|infinity|nan)$/i;
const INT = /^[+-]?\d+$/;
const LOSS_LIKE = /loss|err|rmse|mse|mae|mape|perplexity/i;

/** "float = 0.001", "int, required", "one of adam, sgd": the quick pick's description. */
export function describeParameter(parameter: ScriptParameter): string {
  const kind = parameter.choices?.length ? `one of ${parameter.choices.join(", ")}` : (parameter.type ?? "any");
  if (parameter.default !== null) {
    return `${kind} = ${parameter.default}`;
  }
  return parameter.required ? `${kind}, required` : kind;
}

/** The input box's starting text: the declared default when it is a plain literal. */
export function initialValues(parameter: ScriptParameter): string {
  const source = parameter.default?.trim() ?? "";
  const quoted = /^(["'])([^"',]*)\1$/.exec(source);
  if (quoted) {
    return quoted[2];
  }
  return /^[\w.+-]+$/.test(source) && source !== "None" ? source : "";
}

/** The values typed for one parameter, checked against its declared type and choices. */
export function parseValues(text: string, parameter: ScriptParameter): Parsed<string[]> {
  if (/[\r\n\0]/.test(text)) {
    return { ok: false, error: "Values cannot hold line breaks." };
  }
  const values = text.split(",").map((value) => value.trim());
  if (values.length === 1 && values[0] === "") {
    return { ok: false, error: `List the values of ${parameter.name} to try, separated by commas.` };
  }
  if (values.some((value) => value === "")) {
    return { ok: false, error: "An empty value between commas: remove the extra comma." };
  }
  const seen = new Map<string, string>();
  for (const value of values) {
    const problem = typeProblem(value, parameter);
    if (problem) {
      return { ok: false, error: problem };
    }
    const key = sameValueKey(value, parameter.type);
    const earlier = seen.get(key);
    if (earlier !== undefined) {
      return { ok: false, error: earlier === value ? `${value} is listed twice.` : `${earlier} and ${value} are the same value.` };
    }
    seen.set(key, value);
  }
  return { ok: true, value: values };
}

function typeProblem(value: string, parameter: ScriptParameter): string | undefined {
  switch (parameter.type) {
    case "int":
      return INT.test(value) ? undefined : `${parameter.name} takes whole numbers, not '${value}'.`;
    case "float":
      return Number.isFinite(Number(value)) || PYTHON_FLOAT_WORDS.test(value) ? undefined : `${parameter.name} takes numbers, not '${value}'.`;
    case "bool":
      return BOOL_WORDS.has(value.toLowerCase()) ? undefined : `${parameter.name} takes true or false, not '${value}'.`;
    default:
      if (parameter.choices?.length && !parameter.choices.includes(value)) {
        return `${parameter.name} takes one of ${parameter.choices.join(", ")}, not '${value}'.`;
      }
      return undefined;
  }
}

/** Two spellings of one value ("0.1" and "0.10", "true" and "yes") would run the same trial twice. */
function sameValueKey(value: string, type: string | null): string {
  if (type === "int" || type === "float") {
    return PYTHON_FLOAT_WORDS.test(value) ? value.toLowerCase().replace(/^\+/, "") : String(Number(value));
  }
  if (type === "bool") {
    return String(["true", "1", "yes", "on"].includes(value.toLowerCase()));
  }
  return value;
}

/** Trials at once: a whole number from 1 to the machine's CPUs. */
export function parseMaxConcurrent(text: string, cpus: number): Parsed<number> {
  const most = Math.max(1, cpus);
  const value = Number(text.trim());
  if (!INT.test(text.trim()) || value < 1 || value > most) {
    return { ok: false, error: `A whole number from 1 to ${most} (this machine's CPUs).` };
  }
  return { ok: true, value };
}

/** The form's suggestion for trials at once: 2, or 1 on a one-CPU machine. */
export function defaultMaxConcurrent(cpus: number): number {
  return Math.max(1, Math.min(2, cpus));
}

/** min for a loss or an error, max for the rest (accuracy, f1, r2, …): the mode picker's first item. */
export function guessMode(metric: string): "min" | "max" {
  return LOSS_LIKE.test(metric) ? "min" : "max";
}

/** The metric names the script's runs logged, sorted, for the metric picker. */
export function metricNames(runs: { metrics: Record<string, number> }[]): string[] {
  return [...new Set(runs.flatMap((run) => Object.keys(run.metrics)))].sort((a, b) => a.localeCompare(b));
}

/** How many trials a grid of these values makes. */
export function gridSize(swept: SweepChoices["swept"]): number {
  return swept.reduce((size, parameter) => size * parameter.values.length, 1);
}

/** The request the choices make: values as typed, each its own item (the server builds the argv). */
export function sweepRequest(choices: SweepChoices): SweepRequest {
  const request: SweepRequest = {
    params: choices.swept.map(({ name, values }) => ({ name, values: [...values] })),
    maxConcurrent: choices.maxConcurrent,
  };
  if (choices.metric) {
    request.metric = choices.metric;
    request.mode = choices.mode ?? "max";
  }
  if (choices.targetAddress) {
    request.targetAddress = choices.targetAddress;
  }
  return request;
}
