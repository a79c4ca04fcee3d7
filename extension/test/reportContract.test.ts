import { strict as assert } from "node:assert";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import {
  isReportDocument,
  isReportHostMessage,
  isReportViewState,
  isReportWebviewMessage,
  isTable,
  ReportHostMessageType,
  ReportWebviewMessageType,
  type ReportDocument,
} from "../src/reports/reportContract";
import { reportFixture } from "./fixtures/reportFixtures";

const fixture = reportFixture;

/** A deep copy to spoil one field of. */
function copy<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

test("the backend's fairness and explanation documents are report documents", () => {
  assert.equal(isReportDocument(fixture("reportFairness")), true);
  assert.equal(isReportDocument(fixture("reportExplain")), true);
});

test("a document without details (a hand-written file) is still shown", () => {
  const document: Partial<ReportDocument> = copy(fixture("reportExplain"));
  delete document.details;
  assert.equal(isReportDocument(document), true);
});

type Path = (string | number)[];
const DELETE = Symbol("delete");

/** A copy of `document` with the value at `path` replaced (or deleted). */
function spoiled(document: unknown, path: Path, value: unknown): unknown {
  const result = copy(document);
  let node = result as Record<string | number, unknown>;
  for (const key of path.slice(0, -1)) {
    node = node[key] as Record<string | number, unknown>;
  }
  const last = path[path.length - 1];
  if (value === DELETE) {
    delete node[last];
  } else {
    node[last] = value;
  }
  return result;
}

test("a spoiled document is refused, field by field", () => {
  const document = fixture("reportFairness");
  const byGroup = document.sections[0].choice;
  assert.ok(byGroup?.options[0].table?.flags);
  const table: Path = ["sections", 0, "choice", "options", 0, "table"];
  const spoilers: [string, Path, unknown][] = [
    ["unknown kind", ["kind"], "mystery"],
    ["title not text", ["title"], 3],
    ["version not a count", ["version"], "1"],
    ["summary not a list", ["summary"], {}],
    ["figure value an object", ["summary", 0, "value"], { nested: 1 }],
    ["warning not text", ["warnings"], [1]],
    ["duplicate section ids", ["sections"], [document.sections[0], document.sections[0]]],
    ["section without title", ["sections", 0, "title"], DELETE],
    ["chart not an object", ["sections", 1, "chart"], "bar"],
    ["duplicate option ids", ["sections", 0, "choice", "options", 1, "id"], byGroup.options[0].id],
    ["choice without options", ["sections", 0, "choice", "options"], []],
    ["flags shorter than rows", [...table, "flags"], byGroup.options[0].table.flags.slice(1)],
    ["column of an unknown kind", [...table, "columns", 1, "kind"], "date"],
    ["digits negative", [...table, "columns", 1, "digits"], -1],
    ["cell an array", [...table, "rows", 0, "accuracy"], [0.5]],
    ["data rows not a count", ["data", "rows"], -3],
  ];
  for (const [what, path, value] of spoilers) {
    assert.equal(isReportDocument(spoiled(document, path, value)), false, what);
  }
  assert.equal(isReportDocument(spoiled(document, ["sections", 1, "chart"], { mark: "bar" })), true, "the spoiling itself");
  assert.equal(isReportDocument(null), false);
  assert.equal(isReportDocument([]), false);
});

test("a table's totalRows counts at least its rows; a missing cell is allowed", () => {
  const table = { columns: [{ key: "group", label: "Group", kind: "text" }], rows: [{ group: "a" }, {}] };
  assert.equal(isTable(table), true);
  assert.equal(isTable({ ...table, totalRows: 10 }), true);
  assert.equal(isTable({ ...table, totalRows: 1 }), false);
  assert.equal(isTable({ ...table, columns: [...table.columns, ...table.columns] }), false, "duplicate column keys");
});

test("host messages: loading, a document, an error", () => {
  const document = fixture("reportFairness");
  assert.equal(isReportHostMessage({ type: ReportHostMessageType.LOADING, title: "Fairness" }), true);
  assert.equal(isReportHostMessage({ type: ReportHostMessageType.DOCUMENT, document, logged: true, openedAt: 1700000000000 }), true);
  assert.equal(isReportHostMessage({ type: ReportHostMessageType.DOCUMENT, document, logged: false, openedAt: null }), true);
  assert.equal(isReportHostMessage({ type: ReportHostMessageType.DOCUMENT, document, logged: true, openedAt: "now" }), false);
  assert.equal(isReportHostMessage({ type: ReportHostMessageType.DOCUMENT, document: { title: "x" }, logged: true, openedAt: null }), false);
  assert.equal(isReportHostMessage({ type: ReportHostMessageType.ERROR, message: "no", retryable: true }), true);
  assert.equal(isReportHostMessage({ type: ReportHostMessageType.ERROR, message: "no" }), false);
  assert.equal(isReportHostMessage({ type: "html", html: "<b>" }), false);
});

test("webview messages: only the known ones, with nothing extra", () => {
  for (const type of [ReportWebviewMessageType.READY, ReportWebviewMessageType.EXPORT_HTML, ReportWebviewMessageType.OPEN_JSON, ReportWebviewMessageType.RETRY]) {
    assert.equal(isReportWebviewMessage({ type }), true, type);
    assert.equal(isReportWebviewMessage({ type, path: "/etc/passwd" }), false, `${type} with a path`);
  }
  const timing = { firstPaintMs: 120.5, completeMs: 300, pageMs: 80, readyMs: 40, documentMs: 60 };
  assert.equal(isReportWebviewMessage({ type: ReportWebviewMessageType.RENDERED, timing }), true);
  assert.equal(isReportWebviewMessage({ type: ReportWebviewMessageType.RENDERED, timing: { ...timing, firstPaintMs: -1 } }), false);
  assert.equal(isReportWebviewMessage({ type: ReportWebviewMessageType.RENDERED, timing: { ...timing, extra: 1 } }), false);
  assert.equal(isReportWebviewMessage({ type: ReportWebviewMessageType.RENDERED }), false);
  assert.equal(isReportWebviewMessage({ type: "openFile" }), false);
  assert.equal(isReportWebviewMessage("ready"), false);
});

test("the view state keeps the option picked per section", () => {
  assert.equal(isReportViewState({ choices: { "by-group": "age_group" } }), true);
  assert.equal(isReportViewState({ choices: {} }), true);
  assert.equal(isReportViewState({ choices: { "by-group": 3 } }), false);
  assert.equal(isReportViewState({}), false);
  assert.equal(isReportViewState(undefined), false);
});

test("the Report webview never parses text as HTML", () => {
  // Group labels, feature names and warnings come from the user's data: the webview sets them
  // with textContent. Guard that no source of the page reaches for an HTML parser.
  const folder = join(__dirname, "..", "..", "media", "report");
  const sources = readdirSync(folder).filter((name) => name.endsWith(".ts"));
  assert.ok(sources.includes("main.ts") && sources.includes("reportTable.ts") && sources.includes("reportChoice.ts"));
  for (const name of sources) {
    const text = readFileSync(join(folder, name), "utf8");
    assert.doesNotMatch(text, /innerHTML|outerHTML|insertAdjacentHTML|document\.write|DOMParser|createContextualFragment/, name);
    assert.doesNotMatch(text, /\beval\(|new Function\(/, name);
  }
});
