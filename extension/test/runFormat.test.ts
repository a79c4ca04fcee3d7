import { strict as assert } from "node:assert";
import { test } from "node:test";
import { RunSummary } from "../src/protocol";
import { countText, describeRun, formatDuration, formatNumber } from "../src/explorer/runFormat";

const base: RunSummary = {
  run_id: "abc",
  experiment_id: "0",
  experiment_name: "Default",
  run_name: "brave-owl",
  status: "FINISHED",
  start_time: 1_000,
  end_time: 13_500,
  script: "/ws/train_iris.py",
  metrics: { accuracy: 0.973684, loss: 0.1 },
  params: {},
  exit_code: 0,
  error_tail: null,
  primary_metric: "accuracy",
};

test("durations read naturally", () => {
  assert.equal(formatDuration(12_400), "12s");
  assert.equal(formatDuration(125_000), "2m 5s");
  assert.equal(formatDuration(3_726_000), "1h 2m");
  assert.equal(formatDuration(-5), "0s");
});

test("numbers keep four significant digits, integers stay whole", () => {
  assert.equal(formatNumber(0.973684), "0.9737");
  assert.equal(formatNumber(42), "42");
});

test("a run is described by script, duration and its primary metric", () => {
  assert.equal(describeRun(base, 0), "train_iris.py · 13s · accuracy 0.9737");
  const running = { ...base, end_time: null, primary_metric: null };
  assert.equal(describeRun(running, 31_000), "train_iris.py · 30s");
});

test("counts read as exact, and as lower bounds while a tracking server's cache loads", () => {
  assert.equal(countText(3, 3, false), "3 runs");
  assert.equal(countText(1, 1, false), "1 run");
  assert.equal(countText(2, 12, true), "2 of 12 runs");
  assert.equal(countText(5000, 5000, false, false, false), "5000+ runs");
  assert.equal(countText(40, 5000, true, true, false), "40 of 5000+ runs");
  assert.equal(countText(100, 5000, true, false, true), "100+ of 5000 runs");
});
