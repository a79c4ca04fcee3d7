// The typed message contract between the Report panel's webview and the extension, and the
// checks of a report document before either side draws it. The webview bundle, the extension
// and the unit tests all import this file, so a renamed message or field breaks the build on
// both sides; the guards check what crosses the boundary because neither side trusts the
// other's input blindly (a report file is an artifact anyone could have edited). Type imports only.

import type { Choice, Column, DataSource, Figure, Option, ReportDocument, Section, Table } from "../protocol";

export type { Choice, Column, Figure, Option, ReportDocument, Section, Table };

export const REPORT_DOCUMENT_KINDS = ["fairness", "explain", "privacy", "card"] as const;

export enum ReportWebviewMessageType {
  /** The webview has loaded and listens: the extension (re)sends what it has. */
  READY = "ready",
  /** Save the report as the self-contained HTML file the backend wrote beside its JSON. */
  EXPORT_HTML = "exportHtml",
  /** Open the report's JSON in an editor. */
  OPEN_JSON = "openJson",
  /** Load the report again after an error. */
  RETRY = "retry",
  /** The first document is on screen: how long it took (measured once per panel). */
  RENDERED = "rendered",
}

export enum ReportHostMessageType {
  LOADING = "loading",
  DOCUMENT = "document",
  ERROR = "error",
}

/** Milliseconds, on the wall clock both sides share, from the panel's opening. */
export interface RenderTiming {
  /** Until the first table (or, without one, chart or text) was painted. */
  firstPaintMs: number;
  /** Until every chart of the first view was drawn too. */
  completeMs: number;
  /** From the webview page's own start to its first paint (its share of `firstPaintMs`). */
  pageMs: number;
  /** From the page's start to its script saying `ready` (loading and running the bundle). */
  readyMs: number;
  /** From the page's start to the document's arrival (`ready`, then the extension's load). */
  documentMs: number;
}

const TIMING_KEYS = ["firstPaintMs", "completeMs", "pageMs", "readyMs", "documentMs"] as const;

export type ReportWebviewMessage =
  | { type: ReportWebviewMessageType.READY }
  | { type: ReportWebviewMessageType.EXPORT_HTML }
  | { type: ReportWebviewMessageType.OPEN_JSON }
  | { type: ReportWebviewMessageType.RETRY }
  | { type: ReportWebviewMessageType.RENDERED; timing: RenderTiming };

export type ReportHostMessage =
  | { type: ReportHostMessageType.LOADING; title: string }
  | {
      type: ReportHostMessageType.DOCUMENT;
      document: ReportDocument;
      /** Whether the report's files are logged under a run (Export HTML needs them). */
      logged: boolean;
      /** `Date.now()` when the panel opened, until the first paint was reported; then null. */
      openedAt: number | null;
    }
  /** `retryable` is false when loading again cannot help. */
  | { type: ReportHostMessageType.ERROR; message: string; retryable: boolean };

/** What the webview keeps across reloads with `vscode.setState`: the option picked per choice. */
export interface ReportViewState {
  /** Section id -> option id. */
  choices: Record<string, string>;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function oneOf<T extends string>(options: readonly T[], value: unknown): value is T {
  return typeof value === "string" && (options as readonly string[]).includes(value);
}

function optional<T>(value: unknown, check: (item: unknown) => item is T): boolean {
  return value === undefined || check(value);
}

function isString(value: unknown): value is string {
  return typeof value === "string";
}

function isFiniteNumber(value: unknown): value is number {
  return typeof value === "number" && Number.isFinite(value);
}

function isCount(value: unknown): value is number {
  return isFiniteNumber(value) && Number.isInteger(value) && value >= 0;
}

/** JSON has no NaN: a value the backend could not compute arrives as null. */
function isCellValue(value: unknown): value is string | number | null {
  return value === null || typeof value === "string" || isFiniteNumber(value);
}

export function isColumn(value: unknown): value is Column {
  return (
    isRecord(value) &&
    isString(value.key) &&
    isString(value.label) &&
    oneOf(["text", "number"] as const, value.kind) &&
    optional(value.digits, (d): d is number => isCount(d) && d <= 21)
  );
}

export function isTable(value: unknown): value is Table {
  if (!isRecord(value) || !Array.isArray(value.columns) || !Array.isArray(value.rows)) {
    return false;
  }
  const { columns, rows, flags, totalRows } = value;
  if (!columns.every(isColumn) || new Set(columns.map((c) => c.key)).size !== columns.length) {
    return false;
  }
  // A row may leave a cell out (shown empty); what it has must be a cell value.
  if (!rows.every((row) => isRecord(row) && Object.values(row).every(isCellValue))) {
    return false;
  }
  // Flags are parallel to the rows: a shorter list would mark the wrong rows.
  if (flags !== undefined && !(Array.isArray(flags) && flags.length === rows.length && flags.every(isString))) {
    return false;
  }
  return totalRows === undefined || (isCount(totalRows) && totalRows >= rows.length);
}

/** A Vega-Lite spec: drawn by vega-embed with the expression interpreter, so any object will do. */
function isChart(value: unknown): value is Record<string, unknown> {
  return isRecord(value);
}

function isContent(value: Record<string, unknown>): boolean {
  return optional(value.description, isString) && optional(value.table, isTable) && optional(value.chart, isChart);
}

export function isOption(value: unknown): value is Option {
  return isRecord(value) && isString(value.id) && isString(value.label) && isContent(value);
}

export function isChoice(value: unknown): value is Choice {
  return (
    isRecord(value) &&
    isString(value.label) &&
    Array.isArray(value.options) &&
    value.options.length > 0 &&
    value.options.every(isOption) &&
    // Options are picked by id (and remembered by it): two with one id could not both be picked.
    new Set(value.options.map((option) => option.id)).size === value.options.length
  );
}

export function isSection(value: unknown): value is Section {
  return isRecord(value) && isString(value.id) && isString(value.title) && isContent(value) && optional(value.choice, isChoice);
}

export function isFigure(value: unknown): value is Figure {
  return isRecord(value) && isString(value.label) && isCellValue(value.value) && optional(value.hint, isString);
}

function isDataSource(value: unknown): value is DataSource {
  return isRecord(value) && isString(value.path) && isString(value.sha256) && isCount(value.rows) && isCount(value.columns);
}

/** Checks the whole document: the webview draws it field by field, so every field counts. */
export function isReportDocument(value: unknown): value is ReportDocument {
  return (
    isRecord(value) &&
    oneOf(REPORT_DOCUMENT_KINDS, value.kind) &&
    isCount(value.version) &&
    isString(value.title) &&
    isString(value.createdAt) &&
    Array.isArray(value.summary) &&
    value.summary.every(isFigure) &&
    Array.isArray(value.warnings) &&
    value.warnings.every(isString) &&
    Array.isArray(value.sections) &&
    value.sections.every(isSection) &&
    new Set(value.sections.map((section) => section.id)).size === value.sections.length &&
    // The server fills `details` in when a file lacks it; a document without it is still shown.
    optional(value.details, isRecord) &&
    optional(value.runId, isString) &&
    optional(value.modelUri, isString) &&
    optional(value.data, isDataSource)
  );
}

function isRenderTiming(value: unknown): value is RenderTiming {
  return (
    isRecord(value) &&
    Object.keys(value).length === TIMING_KEYS.length &&
    TIMING_KEYS.every((key) => isFiniteNumber(value[key]) && value[key] >= 0)
  );
}

/** Validates a message from the webview, which runs third-party chart code and is not trusted. */
export function isReportWebviewMessage(value: unknown): value is ReportWebviewMessage {
  if (!isRecord(value)) {
    return false;
  }
  if (value.type === ReportWebviewMessageType.RENDERED) {
    return Object.keys(value).length === 2 && isRenderTiming(value.timing);
  }
  return Object.keys(value).length === 1 && oneOf(Object.values(ReportWebviewMessageType), value.type);
}

/** Validates a message from the extension before the webview acts on it. */
export function isReportHostMessage(value: unknown): value is ReportHostMessage {
  if (!isRecord(value)) {
    return false;
  }
  switch (value.type) {
    case ReportHostMessageType.LOADING:
      return isString(value.title);
    case ReportHostMessageType.DOCUMENT:
      return (
        isReportDocument(value.document) &&
        typeof value.logged === "boolean" &&
        (value.openedAt === null || isFiniteNumber(value.openedAt))
      );
    case ReportHostMessageType.ERROR:
      return isString(value.message) && typeof value.retryable === "boolean";
    default:
      return false;
  }
}

export function isReportViewState(value: unknown): value is ReportViewState {
  return isRecord(value) && isRecord(value.choices) && Object.values(value.choices).every(isString);
}
