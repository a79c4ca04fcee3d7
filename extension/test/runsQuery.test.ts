import assert from "node:assert/strict";
import { test } from "node:test";
import { RunSummary } from "../src/protocol";
import {
  describeOrder,
  describeQuery,
  effectiveFilter,
  groupByScript,
  initialQuery,
  loadingRecheckMs,
  orderChoices,
  parseTagInput,
  pointAt,
  quoteKey,
} from "../src/explorer/runsQuery";

function run(id: string, script: string | null, metrics: Record<string, number> = {}, params: Record<string, string> = {}): RunSummary {
  return {
    run_id: id,
    experiment_id: "0",
    experiment_name: "Default",
    run_name: id,
    status: "FINISHED",
    start_time: 1,
    end_time: 2,
    script,
    metrics,
    params,
    exit_code: 0,
    error_tail: null,
    primary_metric: null,
  };
}

test("effective filter joins the user's filter and the lens's script", () => {
  assert.equal(effectiveFilter(initialQuery), "");
  assert.equal(effectiveFilter({ ...initialQuery, filter: " metrics.a < 1 or params.b = '2' " }), "metrics.a < 1 or params.b = '2'");
  assert.equal(
    effectiveFilter({ ...initialQuery, filter: "metrics.a < 1", script: "/w/train.py" }),
    "(metrics.a < 1) and tags.`mlworkbench.script` = '/w/train.py'",
  );
  assert.equal(effectiveFilter({ ...initialQuery, script: "/w/it's.py" }), 'tags.`mlworkbench.script` = "/w/it\'s.py"');
  // A path with both quotes cannot be expressed: only the user's filter applies.
  assert.equal(effectiveFilter({ ...initialQuery, filter: "x", script: `/w/a'b"c.py` }), "(x)");
});

test("the view's message says what narrows and orders the list", () => {
  assert.equal(describeQuery(initialQuery), undefined);
  assert.equal(
    describeQuery({ ...initialQuery, filter: "metrics.rmse < 0.5", script: "/w/train.py", orderBy: "metrics.rmse ASC" }),
    "Runs of train.py only · filter: metrics.rmse < 0.5 · sorted by metric rmse ↑",
  );
  assert.equal(describeOrder("attributes.start_time DESC"), "start time ↓");
});

test("sort choices come from the loaded runs' metrics and params, keys quoted when needed", () => {
  const choices = orderChoices([run("a", null, { "val loss": 1, acc: 2 }, { lr: "0.1" })]);
  const keys = choices.map((c) => c.orderBy);
  assert.ok(keys.includes("metrics.acc DESC"));
  assert.ok(keys.includes("metrics.`val loss` ASC"));
  assert.ok(keys.includes("params.lr ASC"));
  assert.equal(quoteKey("a-b"), "`a-b`");
  assert.equal(quoteKey("train.loss"), "train.loss");
});

test("grouping by script keeps the server's order and names runs without a script", () => {
  const groups = groupByScript([run("1", "/w/a.py"), run("2", null), run("3", "/w/a.py"), run("4", "/w/b.py")]);
  assert.deepEqual(
    groups.map((g) => [g.label, g.runs.map((r) => r.run_id)]),
    [
      ["a.py", ["1", "3"]],
      ["(no script)", ["2"]],
      ["b.py", ["4"]],
    ],
  );
});

test("tag input is key=value with reserved prefixes refused", () => {
  assert.deepEqual(parseTagInput("stage = baseline"), { key: "stage", value: "baseline" });
  assert.deepEqual(parseTagInput("note=a=b"), { key: "note", value: "a=b" });
  assert.match(parseTagInput("novalue") as string, /key=value/);
  assert.match(parseTagInput("=x") as string, /key=value/);
  assert.match(parseTagInput("mlflow.runName=x") as string, /reserved/);
});

test("an error position is marked inside the filter", () => {
  assert.equal(pointAt("metrics.rmse <", 14), "metrics.rmse <⟦here⟧");
  assert.equal(pointAt("params.a = 'x' and", 4), "para⟦here⟧ms.a = 'x' and");
  assert.equal(pointAt("abc", undefined), "");
  assert.ok(pointAt("x".repeat(100), 50).startsWith("…"));
});

test("while the cache loads the view asks again after 2 s, doubling to at most 30 s", () => {
  const waits = [0, 1, 2, 3, 4, 5, 50].map(loadingRecheckMs);
  assert.deepEqual(waits, [2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000]);
  assert.equal(loadingRecheckMs(-1), 2_000);
});
