// How a report's values read on screen: numbers to a column's significant digits (the full value
// kept for a tooltip), empty cells, flagged rows, the note on a cut table, and which option of a
// choice is shown. Pure, with no DOM and no vscode: the webview and the unit tests share it.
import type { Choice, Column, Figure, Option, Table } from "./reportContract";

/** `number_column`'s default in report_document.py. */
export const DEFAULT_DIGITS = 4;
/** Shown for a value the backend could not compute (null in the JSON). */
export const NO_VALUE = "\u2014";

export interface CellText {
  text: string;
  /** The full value (or why there is none), for a tooltip; undefined when `text` is all of it. */
  title?: string;
}

const formats = new Map<string, Intl.NumberFormat>();

function numberFormat(locale: string, options: Intl.NumberFormatOptions): Intl.NumberFormat {
  const key = `${locale}|${JSON.stringify(options)}`;
  let format = formats.get(key);
  if (format === undefined) {
    format = new Intl.NumberFormat(locale, options);
    formats.set(key, format);
  }
  return format;
}

/**
 * `value` to `digits` significant digits, trailing zeros kept so a column's numbers line up
 * ("0.7970", "0.8125" for digits 4). An integer too long for `digits` is shown whole (a count
 * rounded to 4 digits would read as a different count), `digits` 0 rounds to an integer, and very
 * small or very large magnitudes switch to exponent notation.
 */
export function formatNumber(value: number, digits: number = DEFAULT_DIGITS, locale = "en-US"): string {
  if (!Number.isFinite(value)) {
    return NO_VALUE;
  }
  const whole = numberFormat(locale, { maximumFractionDigits: 0 });
  if (digits <= 0 || (Number.isInteger(value) && Math.abs(value) >= 10 ** Math.min(digits, 15))) {
    return Math.abs(value) < 1e15 ? whole.format(value) : value.toExponential(Math.max(0, digits - 1));
  }
  const magnitude = Math.abs(value);
  if (magnitude !== 0 && (magnitude < 1e-4 || magnitude >= 1e15)) {
    return value.toExponential(Math.max(0, digits - 1));
  }
  const significant = Math.min(digits, 21);
  return numberFormat(locale, { minimumSignificantDigits: significant, maximumSignificantDigits: significant }).format(value);
}

/**
 * What a cell shows, and its full value when the shown text rounds it. `integers`: the value is
 * a count (every number in its column, or a figure, is whole), so it is shown whole; else an
 * integer such as a rate of exactly 1 gets the column's digits ("1.000") to line up.
 */
export function cellText(value: string | number | null | undefined, column: Column, locale = "en-US", integers = false): CellText {
  if (value === null || value === undefined) {
    return { text: NO_VALUE, title: "No value (not defined for this row)" };
  }
  if (typeof value === "string") {
    return { text: value };
  }
  if (column.kind === "text") {
    return { text: String(value) };
  }
  const text = integers && Number.isInteger(value) ? formatNumber(value, 0, locale) : formatNumber(value, column.digits ?? DEFAULT_DIGITS, locale);
  // The tooltip only when the text lost digits ("0.7800" is all of 0.78).
  return Number(text.replace(/,/g, "")) === value ? { text } : { text, title: String(value) };
}

/** A summary figure: a number to 4 significant digits, text as it is, null as "—". */
export function figureText(figure: Figure, locale = "en-US"): CellText {
  const column: Column = { key: "value", label: figure.label, kind: "number", digits: DEFAULT_DIGITS };
  const shown = cellText(figure.value, column, locale, true);
  const title = [shown.title, figure.hint].filter((part): part is string => part !== undefined && part !== "");
  return title.length > 0 ? { text: shown.text, title: title.join("\n") } : { text: shown.text };
}

export interface TableRow {
  cells: CellText[];
  /** Why the row is flagged (shown marked, never hidden); "" for none. */
  flag: string;
}

/** Each row's cells in column order, with its flag. */
export function tableRows(table: Table, locale = "en-US"): TableRow[] {
  // A column whose numbers are all whole holds counts: shown whole, whatever its digits.
  const counts = table.columns.map((column) =>
    table.rows.every((row) => {
      const value = row[column.key];
      return typeof value !== "number" || Number.isInteger(value);
    }),
  );
  return table.rows.map((row, index) => ({
    cells: table.columns.map((column, i) => cellText(row[column.key], column, locale, counts[i])),
    flag: table.flags?.[index] ?? "",
  }));
}

export function flaggedCount(table: Table): number {
  return (table.flags ?? []).filter((flag) => flag !== "").length;
}

/** The line under a table: how many rows are flagged, and how many were left out. */
export function tableNote(table: Table, locale = "en-US"): string {
  const parts: string[] = [];
  const flagged = flaggedCount(table);
  if (flagged > 0) {
    parts.push(`${flagged} flagged row${flagged === 1 ? "" : "s"} (marked \u26a0; hover for why).`);
  }
  if (table.totalRows !== undefined && table.totalRows > table.rows.length) {
    const count = (n: number): string => numberFormat(locale, { maximumFractionDigits: 0 }).format(n);
    parts.push(
      `Showing ${count(table.rows.length)} of ${count(table.totalRows)} rows, flagged rows first; the report's JSON has every number.`,
    );
  }
  return parts.join(" ");
}

/** The option a choice shows: the one picked before when it still exists, else the first. */
export function selectedOption(choice: Choice, picked: string | undefined): Option {
  return choice.options.find((option) => option.id === picked) ?? choice.options[0];
}

/** Whether a choice reads best as tabs (a few short labels) or as a drop-down. */
export function choiceControl(choice: Choice): "tabs" | "select" {
  const short = choice.options.every((option) => option.label.length <= 32);
  return choice.options.length <= 6 && short ? "tabs" : "select";
}

/** A chart's accessible name: its spec's description or title, else what it is part of. */
export function chartName(spec: Record<string, unknown>, fallback: string): string {
  const description = spec.description;
  if (typeof description === "string" && description.trim() !== "") {
    return description.trim();
  }
  const title = spec.title;
  if (typeof title === "string" && title.trim() !== "") {
    return title.trim();
  }
  if (typeof title === "object" && title !== null && typeof (title as { text?: unknown }).text === "string") {
    return (title as { text: string }).text;
  }
  return fallback;
}

const KIND_LABELS: Record<string, string> = {
  fairness: "Fairness report",
  explain: "Explanation report",
  privacy: "Privacy report",
  card: "Model card",
};

/** "Fairness report · run 01234567 · data.csv (400 rows × 5 columns) · 2025-01-01 00:00". */
export function documentMeta(
  document: { kind: string; runId?: string; data?: { path: string; rows: number; columns: number }; createdAt: string },
  locale = "en-US",
): string {
  const parts = [KIND_LABELS[document.kind] ?? document.kind];
  if (document.runId) {
    parts.push(`run ${document.runId.slice(0, 8)}`);
  }
  if (document.data) {
    const count = numberFormat(locale, { maximumFractionDigits: 0 });
    parts.push(`${document.data.path} (${count.format(document.data.rows)} rows \u00d7 ${count.format(document.data.columns)} columns)`);
  }
  const created = utcMinute(document.createdAt);
  if (created) {
    parts.push(created);
  }
  return parts.join(" \u00b7 ");
}

/** "2025-01-01 09:30 UTC" from an ISO time; "" when it is not one. */
export function utcMinute(iso: string): string {
  const time = new Date(iso);
  if (iso === "" || Number.isNaN(time.getTime())) {
    return "";
  }
  return `${time.toISOString().slice(0, 16).replace("T", " ")} UTC`;
}
