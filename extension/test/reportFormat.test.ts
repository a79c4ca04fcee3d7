import { strict as assert } from "node:assert";
import { test } from "node:test";
import type { Choice, Column, Table } from "../src/reports/reportContract";
import {
  cellText,
  chartName,
  choiceControl,
  documentMeta,
  figureText,
  flaggedCount,
  formatNumber,
  NO_VALUE,
  selectedOption,
  tableNote,
  tableRows,
  utcMinute,
} from "../src/reports/reportFormat";
import { reportFixture as fixture } from "./fixtures/reportFixtures";

const rate: Column = { key: "accuracy", label: "Accuracy", kind: "number", digits: 4 };

test("numbers show their column's significant digits, trailing zeros kept so they line up", () => {
  assert.equal(formatNumber(0.7914438502673797, 4), "0.7914");
  assert.equal(formatNumber(0.78, 4), "0.7800");
  assert.equal(formatNumber(0.797, 4), "0.7970");
  assert.equal(formatNumber(1234.5678, 4), "1,235");
  assert.equal(formatNumber(-0.036363636, 3), "-0.0364");
  assert.equal(formatNumber(0.5, 1), "0.5");
  assert.equal(formatNumber(1, 4), "1.000", "a rate of exactly 1 lines up with the others");
  assert.equal(formatNumber(0, 4), "0.000");
});

test("long integers are shown whole, digits 0 rounds, extremes use exponents", () => {
  assert.equal(formatNumber(400, 0), "400");
  assert.equal(formatNumber(400.0, 0), "400");
  assert.equal(formatNumber(123456, 2), "123,456", "a count is never rounded to other digits");
  assert.equal(formatNumber(12345, 4), "12,345");
  assert.equal(formatNumber(2.6, 0), "3");
  assert.equal(formatNumber(1.23456e-7, 4), "1.235e-7");
  assert.equal(formatNumber(2.5e20, 3), "2.50e+20");
  assert.equal(formatNumber(Number.NaN, 4), NO_VALUE);
});

test("a cell keeps its full value for the tooltip when the text rounds it", () => {
  assert.deepEqual(cellText(0.7914438502673797, rate), { text: "0.7914", title: "0.7914438502673797" });
  assert.deepEqual(cellText(0.78, rate), { text: "0.7800" }, "no tooltip when the text is the whole value");
  assert.deepEqual(cellText(187, { key: "count", label: "Rows", kind: "number", digits: 0 }), { text: "187" });
  assert.deepEqual(cellText("female", { key: "group", label: "Group", kind: "text" }), { text: "female" });
  assert.deepEqual(cellText(3, { key: "group", label: "Group", kind: "text" }), { text: "3" });
  const empty = cellText(null, rate);
  assert.equal(empty.text, NO_VALUE);
  assert.match(empty.title ?? "", /No value/);
  assert.equal(cellText(undefined, rate).text, NO_VALUE);
  assert.equal(cellText(0.123456, { key: "x", label: "X", kind: "number" }).text, "0.1235", "4 digits when the column names none");
});

test("counts are shown whole: a figure, or a column of whole numbers", () => {
  assert.deepEqual(figureText({ label: "Rows explained", value: 2 }), { text: "2" });
  assert.deepEqual(figureText({ label: "Real rows", value: 1200 }), { text: "1,200" });
  const table: Table = {
    columns: [
      { key: "n", label: "Rows", kind: "number", digits: 4 },
      { key: "rate", label: "Rate", kind: "number", digits: 4 },
    ],
    rows: [
      { n: 3, rate: 1 },
      { n: 12, rate: 0.5 },
    ],
  };
  assert.deepEqual(
    tableRows(table).map((row) => row.cells.map((cell) => cell.text)),
    [
      ["3", "1.000"],
      ["12", "0.5000"],
    ],
  );
});

test("a summary figure shows its hint and full value in its tooltip", () => {
  const figure = { label: "Demographic parity difference", value: 0.21805929919137462, hint: "largest difference in selection rate" };
  assert.deepEqual(figureText(figure), { text: "0.2181", title: "0.21805929919137462\nlargest difference in selection rate" });
  assert.deepEqual(figureText({ label: "Worst group", value: "male, 41-65 (Accuracy 0.743)" }), { text: "male, 41-65 (Accuracy 0.743)" });
  assert.equal(figureText({ label: "Worst group", value: null }).text, NO_VALUE);
});

test("flagged rows keep their reason and stay in the table", () => {
  const byGroup = fixture("reportFairness").sections[0].choice as Choice;
  const age = byGroup.options.find((option) => option.id === "age_group");
  assert.ok(age?.table);
  const rows = tableRows(age.table);
  assert.equal(rows.length, age.table.rows.length, "no row is hidden");
  const small = rows.find((row) => row.cells[0].text === "65+");
  assert.ok(small);
  assert.match(small.flag, /below the minimum group size of 30/);
  const overall = rows.find((row) => row.cells[0].text === "Overall");
  assert.equal(overall?.flag, "");
  assert.equal(flaggedCount(age.table), 1);
  assert.match(tableNote(age.table), /^1 flagged row \(/);
  assert.equal(overall?.cells[1].text, "400", "the overall count (400.0 in the JSON) reads as a count");
});

test("a cut table says how many rows it shows of how many", () => {
  const table: Table = {
    columns: [{ key: "group", label: "Group", kind: "text" }],
    rows: [{ group: "a" }, { group: "b" }],
    flags: ["", "5 rows: small"],
    totalRows: 10500,
  };
  assert.equal(tableNote(table), "1 flagged row (marked \u26a0; hover for why). Showing 2 of 10,500 rows, flagged rows first; the report's JSON has every number.");
  assert.equal(tableNote({ columns: table.columns, rows: table.rows }), "");
  assert.deepEqual(
    tableRows({ columns: table.columns, rows: table.rows }).map((row) => row.flag),
    ["", ""],
    "a table without flags has none",
  );
});

test("a choice shows the option picked before, else the first", () => {
  const byGroup = fixture("reportFairness").sections[0].choice as Choice;
  assert.deepEqual(
    byGroup.options.map((option) => option.id),
    ["sex", "age_group", "intersection"],
  );
  assert.equal(selectedOption(byGroup, "age_group").id, "age_group");
  assert.equal(selectedOption(byGroup, "region").id, "sex", "a feature this report lacks");
  assert.equal(selectedOption(byGroup, undefined).id, "sex");
});

test("a few short options are tabs, many or long ones a drop-down", () => {
  const options = (count: number, label = "Row"): Choice => ({
    label: "Row",
    options: Array.from({ length: count }, (_, i) => ({ id: `row-${i}`, label: `${label} ${i}` })),
  });
  assert.equal(choiceControl(options(3)), "tabs");
  assert.equal(choiceControl(options(6)), "tabs");
  assert.equal(choiceControl(options(7)), "select");
  assert.equal(choiceControl(options(2, "x".repeat(40))), "select");
});

test("a chart is named by its spec, else by where it is", () => {
  assert.equal(chartName({ description: "Accuracy by group" }, "fallback"), "Accuracy by group");
  assert.equal(chartName({ title: "Importance" }, "fallback"), "Importance");
  assert.equal(chartName({ title: { text: "Importance" } }, "fallback"), "Importance");
  assert.equal(chartName({ mark: "bar" }, "By group: sex"), "By group: sex");
});

test("the report's line under its title says what, on which run and data, and when", () => {
  const document = fixture("reportFairness");
  assert.equal(
    documentMeta(document),
    "Fairness report \u00b7 run 01234567 \u00b7 data.csv (400 rows \u00d7 5 columns) \u00b7 2025-01-01 00:00 UTC",
  );
  assert.equal(documentMeta({ kind: "privacy", createdAt: "" }), "Privacy report");
  assert.equal(utcMinute("2025-03-04T10:11:12+02:00"), "2025-03-04 08:11 UTC");
  assert.equal(utcMinute("yesterday"), "");
});
