import { strict as assert } from "node:assert";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import {
  CompareHostMessageType,
  CompareWebviewMessageType,
  defaultViewState,
  isCompareData,
  isCompareHostMessage,
  isCompareViewState,
  isCompareWebviewMessage,
} from "../src/compare/compareContract";

interface TestRun {
  run_id: unknown;
  run_name?: unknown;
  experiment_name: unknown;
  status: unknown;
  start_time: unknown;
  params: Record<string, unknown>;
  metrics: Record<string, unknown>;
}

interface TestSeries {
  run_id: unknown;
  key: unknown;
  steps: unknown;
  timestamps: unknown;
  values: unknown;
  total_points?: unknown;
  downsampled: unknown;
}

/** Compare data whose fields the tests may spoil one at a time. */
interface TestData {
  runs: TestRun[];
  param_keys: unknown;
  changed_param_keys?: unknown;
  metric_keys: unknown;
  series: TestSeries[];
}

function loose(value: object): Record<string, unknown> {
  return value as Record<string, unknown>;
}

function validData(): TestData {
  return {
    runs: [
      {
        run_id: "a",
        run_name: "<script>alert('x')</script>",
        experiment_name: "exp <b>",
        status: "FINISHED",
        start_time: 1_700_000_000_000,
        params: { lr: "0.1" },
        metrics: { loss: 0.5, nan_metric: null },
      },
      { run_id: "b", run_name: "", experiment_name: "exp", status: "RUNNING", start_time: null, params: {}, metrics: {} },
    ],
    param_keys: ["lr"],
    changed_param_keys: ["lr"],
    metric_keys: ["loss", "nan_metric"],
    series: [
      { run_id: "a", key: "loss", steps: [0, 1], timestamps: [1, 2], values: [1, null], total_points: 2, downsampled: false },
    ],
  };
}

test("accepts compare data, names with markup kept verbatim (they are shown as text)", () => {
  const data = validData();
  assert.ok(isCompareData(data));
  assert.equal(data.runs[0].run_name, "<script>alert('x')</script>");
  assert.ok(isCompareData({ runs: [], param_keys: [], changed_param_keys: [], metric_keys: [], series: [] }));
});

test("rejects compare data with any field of the wrong shape", () => {
  const cases: [string, (data: TestData) => void][] = [
    ["runs not a list", (d) => (loose(d).runs = {})],
    ["run id a number", (d) => (d.runs[0].run_id = 1)],
    ["run name missing", (d) => delete d.runs[0].run_name],
    ["start time as text", (d) => (d.runs[1].start_time = "2024-01-01")],
    ["a param that is not text", (d) => (d.runs[0].params.lr = 0.1)],
    ["a metric that is text", (d) => (d.runs[0].metrics.loss = "0.5")],
    ["params a list", (d) => (loose(d.runs[0]).params = ["lr"])],
    ["a param key that is not text", (d) => (d.param_keys = [1])],
    ["changed keys missing", (d) => delete d.changed_param_keys],
    ["steps and values of different lengths", (d) => (d.series[0].steps = [0])],
    ["a step that is not finite", (d) => (d.series[0].steps = [0, null])],
    ["a value that is text", (d) => (d.series[0].values = [1, "2"])],
    ["downsampled not a boolean", (d) => (d.series[0].downsampled = "no")],
    ["total points missing", (d) => delete d.series[0].total_points],
    ["two runs with one id", (d) => (d.runs[1].run_id = "a")],
    ["a series of a run not compared", (d) => (d.series[0].run_id = "zzz")],
  ];
  for (const [name, spoil] of cases) {
    const data = validData();
    spoil(data);
    assert.equal(isCompareData(data), false, name);
  }
  for (const value of [undefined, null, "data", 42, []]) {
    assert.equal(isCompareData(value), false, String(value));
  }
});

test("accepts exactly the messages the webview may send", () => {
  assert.ok(isCompareWebviewMessage({ type: CompareWebviewMessageType.READY }));
  assert.ok(isCompareWebviewMessage({ type: "exportCsv" }));
  assert.ok(isCompareWebviewMessage({ type: "retry" }));
  for (const message of [
    undefined,
    null,
    "ready",
    {},
    { type: "READY" },
    { type: "data" }, // a type from the other direction
    { type: "exportCsv", path: "/etc/passwd" }, // extra fields are refused, not ignored
    { type: "retry", runIds: ["x"] },
    [{ type: "ready" }],
    Object.create({ type: "ready" }) as unknown,
  ]) {
    assert.equal(isCompareWebviewMessage(message), false, JSON.stringify(message));
  }
});

test("checks each message from the extension", () => {
  assert.ok(isCompareHostMessage({ type: CompareHostMessageType.LOADING, runCount: 3 }));
  assert.equal(isCompareHostMessage({ type: "loading", runCount: -1 }), false);
  assert.equal(isCompareHostMessage({ type: "loading" }), false);
  assert.ok(isCompareHostMessage({ type: "data", data: validData() }));
  const broken = validData();
  broken.runs[0].metrics = { loss: "high" };
  assert.equal(isCompareHostMessage({ type: "data", data: broken }), false);
  assert.ok(isCompareHostMessage({ type: "error", message: "Run abc not found", retryable: true }));
  assert.equal(isCompareHostMessage({ type: "error", message: "x" }), false);
  assert.equal(isCompareHostMessage({ type: "error", message: 3, retryable: false }), false);
  assert.equal(isCompareHostMessage({ type: "ready" }), false);
  assert.equal(isCompareHostMessage(null), false);
});

test("validates the saved view state", () => {
  assert.ok(isCompareViewState(defaultViewState()));
  assert.equal(defaultViewState().hideUnchanged, true, "hide unchanged is on by default");
  assert.ok(isCompareViewState({ ...defaultViewState(), tab: "parallel", smoothing: 0.99, parallelMetrics: ["loss"] }));
  for (const spoil of [
    { tab: "charts" },
    { smoothing: 1 },
    { smoothing: -0.1 },
    { smoothing: Number.NaN },
    { xAxis: "time" },
    { parallelMetrics: "loss" },
    { hideUnchanged: "yes" },
  ]) {
    assert.equal(isCompareViewState({ ...defaultViewState(), ...spoil }), false, JSON.stringify(spoil));
  }
  assert.equal(isCompareViewState(undefined), false);
});

test("the Compare webview never parses text as HTML", () => {
  // Run names, params and metric keys come from training scripts: the webview sets them with
  // textContent. Guard that no source of the page reaches for an HTML parser.
  const folder = join(__dirname, "..", "..", "media", "compare");
  const sources = readdirSync(folder).filter((name) => name.endsWith(".ts"));
  assert.ok(sources.includes("main.ts") && sources.includes("paramsTable.ts"));
  for (const name of sources) {
    const text = readFileSync(join(folder, name), "utf8");
    assert.doesNotMatch(text, /innerHTML|outerHTML|insertAdjacentHTML|document\.write|DOMParser|createContextualFragment/, name);
    assert.doesNotMatch(text, /\beval\(|new Function\(/, name);
  }
});
