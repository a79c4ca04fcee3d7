// What the Runs view asks the server for: the filter, the order, grouping, deleted runs and the
// script a lens narrowed it to. Pure (no vscode import) so it is unit-tested.
import * as path from "path";
import { RunSummary } from "../protocol";

export const PAGE_SIZE = 100;
export const DEFAULT_ORDER = "attributes.start_time DESC";

export interface RunsQuery {
  /** The user's filter in the run filter language (MLflow's syntax plus or / in / ranges). */
  filter: string;
  /** One MLflow order key, e.g. `metrics.accuracy DESC`. */
  orderBy: string;
  groupByScript: boolean;
  showDeleted: boolean;
  /** Absolute path of the script the `N runs` lens narrowed the view to. */
  script: string | undefined;
}

/**
 * How long the view waits before asking again while the server's run cache still loads (a
 * page marked `loading`, counts not known yet): 2 s, doubling to 30 s. A tracking server with
 * 100,000 runs takes minutes to read whole; asking every 2 s all that time would be one more
 * search of the server each time, so the waits grow while the answers stay partial.
 */
export function loadingRecheckMs(attempt: number): number {
  return Math.min(30_000, 2_000 * 2 ** Math.max(0, Math.min(attempt, 4)));
}

export const initialQuery: RunsQuery = {
  filter: "",
  orderBy: DEFAULT_ORDER,
  groupByScript: false,
  showDeleted: false,
  script: undefined,
};

/**
 * The filter the server gets: the user's filter and the lens's script, joined with `and`.
 * The script is a tag value between quotes the language takes verbatim; a path holding a `'`
 * uses `"` instead (one holding both cannot be expressed, and then only the user's filter applies).
 */
export function effectiveFilter(query: RunsQuery): string {
  const parts: string[] = [];
  if (query.filter.trim()) {
    parts.push(`(${query.filter.trim()})`);
  }
  if (query.script) {
    const quoted = quoteValue(query.script);
    if (quoted) {
      parts.push(`tags.\`mlworkbench.script\` = ${quoted}`);
    }
  }
  // Alone, the user's filter goes as typed, so error positions point into what they typed.
  return parts.length === 1 && !query.script ? query.filter.trim() : parts.join(" and ");
}

export function quoteValue(value: string): string | undefined {
  if (!value.includes("'")) {
    return `'${value}'`;
  }
  if (!value.includes('"')) {
    return `"${value}"`;
  }
  return undefined;
}

/** Words for the view's message line: what narrows the list right now. */
export function describeQuery(query: RunsQuery): string | undefined {
  const parts: string[] = [];
  if (query.script) {
    parts.push(`runs of ${path.basename(query.script)} only`);
  }
  if (query.filter.trim()) {
    parts.push(`filter: ${query.filter.trim()}`);
  }
  if (query.orderBy !== DEFAULT_ORDER) {
    parts.push(`sorted by ${describeOrder(query.orderBy)}`);
  }
  if (query.showDeleted) {
    parts.push("deleted runs shown");
  }
  return parts.length ? `${capitalize(parts.join(" · "))}` : undefined;
}

export interface OrderChoice {
  label: string;
  orderBy: string;
}

/** Sort choices: the run attributes, then every metric and param the loaded runs have. */
export function orderChoices(runs: readonly RunSummary[]): OrderChoice[] {
  const choices: OrderChoice[] = [
    { label: "Newest first", orderBy: "attributes.start_time DESC" },
    { label: "Oldest first", orderBy: "attributes.start_time ASC" },
    { label: "Name (A→Z)", orderBy: "attributes.run_name ASC" },
    { label: "Status", orderBy: "attributes.status ASC" },
  ];
  const metrics = new Set<string>();
  const params = new Set<string>();
  for (const run of runs) {
    Object.keys(run.metrics).forEach((k) => metrics.add(k));
    Object.keys(run.params).forEach((k) => params.add(k));
  }
  for (const key of [...metrics].sort()) {
    choices.push({ label: `Metric ${key} (highest first)`, orderBy: `metrics.${quoteKey(key)} DESC` });
    choices.push({ label: `Metric ${key} (lowest first)`, orderBy: `metrics.${quoteKey(key)} ASC` });
  }
  for (const key of [...params].sort()) {
    choices.push({ label: `Param ${key} (A→Z)`, orderBy: `params.${quoteKey(key)} ASC` });
  }
  return choices;
}

/** Keys with characters outside a plain identifier go between backticks, as MLflow wants. */
export function quoteKey(key: string): string {
  return /^[A-Za-z_][\w.]*$/.test(key) && !key.includes("..") ? key : `\`${key}\``;
}

export function describeOrder(orderBy: string): string {
  const match = /^(\w+)\.(.+?)\s+(ASC|DESC)$/i.exec(orderBy.trim());
  if (!match) {
    return orderBy;
  }
  const [, kind, rawKey, direction] = match;
  const key = rawKey.replace(/^`|`$/g, "");
  return `${kind === "attributes" ? key.replace("_", " ") : `${kind.replace(/s$/, "")} ${key}`} ${direction.toUpperCase() === "DESC" ? "↓" : "↑"}`;
}

export interface ScriptGroup {
  script: string | null;
  label: string;
  runs: RunSummary[];
}

/** Groups loaded runs by script, keeping the server's order inside and between groups. */
export function groupByScript(runs: readonly RunSummary[]): ScriptGroup[] {
  const groups = new Map<string, ScriptGroup>();
  for (const run of runs) {
    const key = run.script ?? "";
    let group = groups.get(key);
    if (!group) {
      group = { script: run.script, label: run.script ? path.basename(run.script) : "(no script)", runs: [] };
      groups.set(key, group);
    }
    group.runs.push(run);
  }
  return [...groups.values()];
}

/** `key=value` from the Add Tag box, or the reason it cannot be a tag. */
export function parseTagInput(text: string): { key: string; value: string } | string {
  const index = text.indexOf("=");
  if (index <= 0) {
    return "Write the tag as key=value, e.g. stage=baseline";
  }
  const key = text.slice(0, index).trim();
  if (!key) {
    return "The tag key is empty";
  }
  if (key.startsWith("mlflow.") || key.startsWith("mlworkbench.")) {
    return `Keys starting with ${key.startsWith("mlflow.") ? "mlflow." : "mlworkbench."} are reserved`;
  }
  return { key, value: text.slice(index + 1).trim() };
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** The filter with a caret under the error's position, for the filter box's message. */
export function pointAt(filter: string, position: number | undefined): string {
  if (position === undefined || position < 0) {
    return "";
  }
  const at = Math.min(position, filter.length);
  const start = Math.max(0, at - 30);
  const end = Math.min(filter.length, at + 30);
  return `${start > 0 ? "…" : ""}${filter.slice(start, at)}⟦here⟧${filter.slice(at, end)}${end < filter.length ? "…" : ""}`;
}
