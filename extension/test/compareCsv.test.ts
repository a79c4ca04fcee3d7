import { strict as assert } from "node:assert";
import { test } from "node:test";
import type { CompareDataWire, CompareRun } from "../src/compare/compareContract";
import { COMPARE_CSV_FILE_NAME, compareCsvField, formatCompareCsv } from "../src/compare/compareCsv";

function run(id: string, overrides: Partial<CompareRun> = {}): CompareRun {
  return {
    run_id: id,
    run_name: `run-${id}`,
    experiment_name: "exp",
    status: "FINISHED",
    start_time: Date.UTC(2025, 0, 2, 3, 4, 5),
    params: {},
    metrics: {},
    ...overrides,
  };
}

function data(runs: CompareRun[], paramKeys: string[], metricKeys: string[]): CompareDataWire {
  return { runs, param_keys: paramKeys, changed_param_keys: paramKeys, metric_keys: metricKeys, series: [] };
}

/** A strict RFC 4180 reader, to prove the writer's output reads back to the same cells. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = "";
  let i = 0;
  let quoted = false;
  while (i < text.length) {
    const char = text[i];
    if (quoted) {
      if (char === '"' && text[i + 1] === '"') {
        field += '"';
        i += 2;
        continue;
      }
      if (char === '"') {
        quoted = false;
        i += 1;
        continue;
      }
      field += char;
      i += 1;
      continue;
    }
    if (char === '"') {
      assert.equal(field, "", "a quote opens a field only at its start");
      quoted = true;
    } else if (char === ",") {
      row.push(field);
      field = "";
    } else if (char === "\r" && text[i + 1] === "\n") {
      row.push(field);
      rows.push(row);
      row = [];
      field = "";
      i += 1;
    } else {
      assert.notEqual(char, "\n", "a bare LF outside quotes is not RFC 4180");
      field += char;
    }
    i += 1;
  }
  assert.equal(quoted, false, "every quoted field is closed");
  assert.equal(field, "", "the file ends with CRLF");
  return rows;
}

test("the default file name", () => {
  assert.equal(COMPARE_CSV_FILE_NAME, "runs-compare.csv");
});

test("one row per run: identity, then params.<key>, then metrics.<key>, missing values empty", () => {
  const csv = formatCompareCsv(
    data(
      [
        run("a", { params: { lr: "0.1", optimizer: "adam" }, metrics: { loss: 0.25, acc: 0.9 } }),
        run("b", { params: { lr: "0.01" }, metrics: { loss: 0.123456789012345 }, start_time: null, status: "FAILED" }),
      ],
      ["lr", "optimizer"],
      ["acc", "loss"],
    ),
  );
  assert.ok(csv.endsWith("\r\n"));
  assert.deepEqual(parseCsv(csv), [
    ["run_id", "run_name", "experiment_name", "status", "start_time", "params.lr", "params.optimizer", "metrics.acc", "metrics.loss"],
    ["a", "run-a", "exp", "FINISHED", "2025-01-02T03:04:05.000Z", "0.1", "adam", "0.9", "0.25"],
    ["b", "run-b", "exp", "FAILED", "", "0.01", "", "", "0.123456789012345"],
  ]);
});

test("a param and a metric with the same key get separate columns", () => {
  const csv = formatCompareCsv(data([run("a", { params: { loss: "l1" }, metrics: { loss: 2 } })], ["loss"], ["loss"]));
  const [header, row] = parseCsv(csv);
  assert.deepEqual(header.slice(5), ["params.loss", "metrics.loss"]);
  assert.deepEqual(row.slice(5), ["l1", "2"]);
});

test("names with commas, quotes and newlines are quoted and read back exactly", () => {
  const tricky = ['a,b', 'say "hi"', "two\nlines", "cr\r\nlf", " padded ", "<script>alert(1)</script>", "плохо, 日本"];
  const runs = tricky.map((name, i) =>
    run(`r${i}`, { run_name: name, experiment_name: name, params: { [name]: name }, metrics: { [name]: i } }),
  );
  const csv = formatCompareCsv(data(runs, tricky, tricky));
  const rows = parseCsv(csv);
  assert.equal(rows.length, tricky.length + 1);
  assert.deepEqual(rows[0].slice(5), [...tricky.map((k) => `params.${k}`), ...tricky.map((k) => `metrics.${k}`)]);
  tricky.forEach((name, i) => {
    const row = rows[i + 1];
    assert.equal(row[1], name);
    assert.equal(row[2], name);
    assert.equal(row[5 + i], name, "its own param");
    assert.equal(row[5 + tricky.length + i], String(i), "its own metric");
  });
  assert.equal(compareCsvField('say "hi"'), '"say ""hi"""');
  assert.equal(compareCsvField("a,b"), '"a,b"');
  assert.equal(compareCsvField("plain"), "plain");
});

test("cells a spreadsheet would run as formulas get a leading apostrophe", () => {
  for (const [text, written] of [
    ["=HYPERLINK(\"http://x\",\"y\")", "\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\""],
    ["+1+cmd|' /C calc'!A0", "'+1+cmd|' /C calc'!A0"],
    ["-2+3", "'-2+3"],
    ["@SUM(A1)", "'@SUM(A1)"],
    ["\t=1", "'\t=1"],
    ["=1,2", "\"'=1,2\""],
  ]) {
    assert.equal(compareCsvField(text), written, text);
  }
  const csv = formatCompareCsv(data([run("a", { run_name: "=cmd()", params: { "@p": "-x" } })], ["@p"], []));
  const [header, row] = parseCsv(csv);
  assert.equal(header[5], "params.@p", "a column name starting with params. is safe as it is");
  assert.equal(row[1], "'=cmd()");
  assert.equal(row[5], "'-x");
});

test("plain numbers keep their sign and stay numbers", () => {
  for (const number of ["-0.5", "+3", "-1e-05", "-.5", "1.5E+10"]) {
    assert.equal(compareCsvField(number), number);
  }
  const csv = formatCompareCsv(data([run("a", { params: { lr: "-0.001" }, metrics: { delta: -2.5 } })], ["lr"], ["delta"]));
  assert.deepEqual(parseCsv(csv)[1].slice(5), ["-0.001", "-2.5"]);
});

test("a non-finite metric (null over JSON) is written as NaN, not left empty", () => {
  const csv = formatCompareCsv(data([run("a", { metrics: { loss: null } }), run("b")], [], ["loss"]));
  const rows = parseCsv(csv);
  assert.equal(rows[1][5], "NaN");
  assert.equal(rows[2][5], "", "a metric the run never logged stays empty");
});

test("no runs gives just the header", () => {
  assert.equal(formatCompareCsv(data([], ["lr"], ["loss"])), "run_id,run_name,experiment_name,status,start_time,params.lr,metrics.loss\r\n");
});
