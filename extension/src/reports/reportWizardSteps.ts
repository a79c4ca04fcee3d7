// The decisions behind the report wizard, kept pure so they are unit-tested: which kinds need
// which inputs, the order the target and sensitive-feature candidates are offered in, what is
// remembered per run, and the checks on typed values (rows to explain, epsilon). The quick
// inputs themselves are in reportWizard.ts.
import type { CreateReportParams, DataColumn } from "../protocol";

export type ReportKind = CreateReportParams["kind"];
export type RunReportKind = Extract<ReportKind, "fairness" | "explain" | "card" | "mitigate">;

export interface KindChoice {
  kind: RunReportKind;
  label: string;
  detail: string;
}

export const RUN_REPORT_KINDS: readonly KindChoice[] = [
  { kind: "fairness", label: "Fairness", detail: "The model's metrics for each group of one or more sensitive features, and the gaps between groups (Fairlearn)" },
  { kind: "explain", label: "Explanation", detail: "Which features drive the model overall, and why it predicted what it did for chosen rows (InterpretML)" },
  { kind: "mitigate", label: "Fairness mitigation", detail: "Train a fairer model under a parity constraint and compare it with this one (Fairlearn); logged as a new run" },
  { kind: "card", label: "Model card", detail: "The run's parameters, metrics, data and other reports in one document" },
];

/** What a kind asks for, in wizard order. */
export interface KindInputs {
  model: boolean;
  data: boolean;
  target: boolean;
  sensitive: boolean;
  rows: boolean;
}

export function inputsOf(kind: ReportKind): KindInputs {
  switch (kind) {
    case "fairness":
    case "mitigate":
      return { model: true, data: true, target: true, sensitive: true, rows: false };
    case "explain":
      return { model: true, data: true, target: true, sensitive: false, rows: true };
    case "card":
      return { model: false, data: false, target: false, sensitive: false, rows: false };
    case "privacy-synth":
    case "privacy-query":
      return { model: false, data: true, target: false, sensitive: false, rows: false };
  }
}

/** A sensitive feature with more groups than this is offered last (fairness_metrics' default). */
export const MAX_GROUPS = 100;
/** At most this many groups reads as a category (sex, age band, region) rather than a measure. */
export const CATEGORY_GROUPS = 20;

export interface Candidate {
  name: string;
  /** Why it is where it is in the list ("2 values", "numeric, 87 values: bin it first"). */
  description: string;
  /** Remembered from the last report on this run. */
  picked: boolean;
}

function values(count: number): string {
  return `${count} value${count === 1 ? "" : "s"}`;
}

/**
 * The columns a user might name as sensitive features: categories with a few groups first (text
 * before numbers: a numeric column with few values is often a code, one with many a measure),
 * then the rest; a column with a single value or more than MAX_GROUPS last, saying why. The
 * target is left out. File order is kept within a rank.
 */
export function sensitiveCandidates(columns: readonly DataColumn[], target: string, remembered: readonly string[] = []): Candidate[] {
  const rank = (column: DataColumn): number => {
    if (column.distinct <= 1 || column.distinct > MAX_GROUPS) {
      return 3;
    }
    if (column.distinct <= CATEGORY_GROUPS) {
      return column.numeric ? 1 : 0;
    }
    return 2;
  };
  const describe = (column: DataColumn): string => {
    if (column.distinct <= 1) {
      return `${values(column.distinct)}: no groups to compare`;
    }
    if (column.distinct > MAX_GROUPS) {
      return `${column.numeric ? "numeric, " : ""}${column.distinct}+ values: too many groups; bin it first`;
    }
    return `${column.numeric ? "numeric, " : ""}${values(column.distinct)}`;
  };
  const wanted = new Set(remembered);
  return columns
    .map((column, index) => ({ column, index }))
    .filter(({ column }) => column.name !== target)
    .sort((a, b) => rank(a.column) - rank(b.column) || a.index - b.index)
    .map(({ column }) => ({ name: column.name, description: describe(column), picked: wanted.has(column.name) }));
}

/**
 * The columns offered as the target: the remembered one first, then two-valued columns (a
 * binary label, what the fairness metrics need), then the rest in file order, each with its
 * number of values.
 */
export function targetCandidates(columns: readonly DataColumn[], remembered?: string): Candidate[] {
  const rank = (column: DataColumn): number => (column.name === remembered ? 0 : column.distinct === 2 ? 1 : 2);
  return columns
    .map((column, index) => ({ column, index }))
    .sort((a, b) => rank(a.column) - rank(b.column) || a.index - b.index)
    .map(({ column }) => ({
      name: column.name,
      description: `${column.numeric ? "numeric, " : ""}${values(column.distinct)}${column.distinct === 2 ? " (binary)" : ""}`,
      picked: column.name === remembered,
    }));
}

/** What the wizard remembers of the last report made on a run (and, as "last", on any run). */
export interface RememberedChoices {
  kind?: RunReportKind;
  model?: string;
  data?: string;
  target?: string;
  sensitive?: string[];
  rows?: string;
}

export type RememberedStore = Record<string, RememberedChoices>;

export const REMEMBERED_KEY = "mlWorkbench.reports.choices";
/** The entry used for a run the wizard has not seen: what was picked last on any run. */
export const LAST_ENTRY = "*";
/** Runs remembered at most (the oldest are forgotten first). */
export const MAX_REMEMBERED_RUNS = 50;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The choices for `runId`: its own, else the last ones on any run (data and columns carry over, the model does not). */
export function recallChoices(store: unknown, runId: string): RememberedChoices {
  if (!isRecord(store)) {
    return {};
  }
  const own = store[runId];
  if (isRecord(own)) {
    return sanitize(own);
  }
  const last = store[LAST_ENTRY];
  if (isRecord(last)) {
    const carried = sanitize(last);
    delete carried.model;
    return carried;
  }
  return {};
}

/** The store with `choices` as `runId`'s and as the last ones, the oldest runs forgotten past the limit. */
export function rememberChoices(store: unknown, runId: string, choices: RememberedChoices): RememberedStore {
  const entries = Object.entries(isRecord(store) ? store : {}).filter(
    (entry): entry is [string, RememberedChoices] => entry[0] !== runId && entry[0] !== LAST_ENTRY && isRecord(entry[1]),
  );
  // Insertion order is age: the newest goes last, the oldest are dropped from the front.
  const kept = entries.slice(Math.max(0, entries.length - (MAX_REMEMBERED_RUNS - 1)));
  return Object.fromEntries([...kept, [runId, choices], [LAST_ENTRY, choices]]);
}

function sanitize(value: Record<string, unknown>): RememberedChoices {
  const text = (item: unknown): string | undefined => (typeof item === "string" && item !== "" ? item : undefined);
  const kind = RUN_REPORT_KINDS.find((choice) => choice.kind === value.kind)?.kind;
  const sensitive = Array.isArray(value.sensitive) ? value.sensitive.filter((s): s is string => typeof s === "string") : undefined;
  const result: RememberedChoices = {};
  if (kind) {
    result.kind = kind;
  }
  for (const key of ["model", "data", "target", "rows"] as const) {
    const item = text(value[key]);
    if (item !== undefined) {
      result[key] = item;
    }
  }
  if (sensitive && sensitive.length > 0) {
    result.sensitive = sensitive;
  }
  return result;
}

/** Rows to explain at most, each a local explanation of its own. */
export const MAX_EXPLAINED_ROWS = 20;

/** "3, 17" -> "3,17" (the CLI's --rows), or a message saying what is wrong. */
export function parseRows(text: string): { rows: string } | { error: string } {
  const parts = text
    .split(",")
    .map((part) => part.trim())
    .filter((part) => part !== "");
  if (parts.length === 0) {
    return { error: "Name at least one row number, e.g. 0 or 0, 17" };
  }
  const bad = parts.find((part) => !/^\d{1,9}$/.test(part));
  if (bad !== undefined) {
    return { error: `${bad} is not a row number (0 is the first data row)` };
  }
  const unique = [...new Set(parts.map((part) => Number(part)))];
  if (unique.length > MAX_EXPLAINED_ROWS) {
    return { error: `At most ${MAX_EXPLAINED_ROWS} rows: each is explained on its own` };
  }
  return { rows: unique.join(",") };
}

/** The privacy loss a query or synthesizer may spend: a positive number. */
export function parseEpsilon(text: string): { epsilon: number } | { error: string } {
  const trimmed = text.trim();
  const value = trimmed === "" ? Number.NaN : Number(trimmed);
  if (!Number.isFinite(value)) {
    return { error: "Epsilon is a number, e.g. 1.0" };
  }
  if (value <= 0) {
    return { error: "Epsilon must be greater than 0 (smaller is more private)" };
  }
  return { epsilon: value };
}

/** The SQL of a private query: one statement, not empty, not huge. */
export function checkSql(text: string): string | undefined {
  const trimmed = text.trim();
  if (trimmed === "") {
    return "Write the query, e.g. SELECT sex, COUNT(*) FROM data GROUP BY sex";
  }
  if (trimmed.length > 10_000) {
    return "The query is longer than 10,000 characters";
  }
  return /^(select|with)\b/i.test(trimmed) ? undefined : "A private query is a SELECT";
}

/**
 * "income=0:200000, age=18:100" -> the CLI's --bounds, or a message saying what is wrong. Empty
 * text means no ranges (the privacy verbs then spend part of epsilon estimating them). The
 * ranges must be public knowledge, so they are never read off the data.
 */
export function parseBounds(text: string, numericColumns?: readonly string[]): { bounds: string } | { error: string } {
  const parts = text
    .split(",")
    .map((part) => part.trim())
    .filter((part) => part !== "");
  const ranges: string[] = [];
  for (const part of parts) {
    const match = /^(.+?)\s*=\s*([^:=\s]+)\s*:\s*([^:=\s]+)$/.exec(part);
    if (match === null) {
      return { error: `${part}: write COLUMN=LOW:HIGH, e.g. income=0:200000` };
    }
    const name = match[1];
    const low = Number(match[2]);
    const high = Number(match[3]);
    if (!Number.isFinite(low) || !Number.isFinite(high)) {
      return { error: `${name}: LOW and HIGH are numbers` };
    }
    if (low >= high) {
      return { error: `${name}: LOW must be below HIGH` };
    }
    if (numericColumns !== undefined && !numericColumns.includes(name)) {
      return { error: `${name} is not a numeric column of the data (${numericColumns.join(", ") || "it has none"})` };
    }
    ranges.push(`${name}=${low}:${high}`);
  }
  return { bounds: ranges.join(",") };
}

/** The settings the reports read, as the verb options the server passes on. */
export interface ReportSettings {
  maxDataMb: number;
  privacyBudget: number;
}

/** The options of a request: the data limit where a kind reads data, the budget for privacy. */
export function settingsOptions(kind: ReportKind, settings: ReportSettings): Record<string, number> {
  const options: Record<string, number> = {};
  if (inputsOf(kind).data && Number.isFinite(settings.maxDataMb) && settings.maxDataMb > 0) {
    // "_" for "-": pygls renames JSON keys that are not identifiers.
    options.max_data_mb = settings.maxDataMb;
  }
  if ((kind === "privacy-synth" || kind === "privacy-query") && Number.isFinite(settings.privacyBudget) && settings.privacyBudget > 0) {
    options.budget = settings.privacyBudget;
  }
  return options;
}

/** Files a report reads: CSV and Parquet. */
export function isDataFile(path: string): boolean {
  return /\.(csv|parquet|pq)$/i.test(path);
}

/** The data files offered first: the remembered one, then by path. */
export function orderDataFiles(paths: readonly string[], remembered?: string): string[] {
  const unique = [...new Set(paths)].sort((a, b) => a.localeCompare(b));
  return remembered !== undefined && unique.includes(remembered) ? [remembered, ...unique.filter((p) => p !== remembered)] : unique;
}

/** The report file's name under `reports/` for a kind (privacy kinds log one "privacy" report). */
export function reportNameOf(artifactPath: string | null | undefined): string | undefined {
  const match = artifactPath ? /(?:^|\/)([^/]+)\.json$/.exec(artifactPath) : null;
  return match ? match[1] : undefined;
}
