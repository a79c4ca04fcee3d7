import { strict as assert } from "node:assert";
import { test } from "node:test";
import type { CompareDataWire, CompareRun, CompareSeries } from "../src/compare/compareContract";
import { MISSING_POSITION, parallelAxes, parallelShape } from "../src/compare/compareParallel";
import {
  downsampleNote,
  isNumericParam,
  lineShape,
  runColors,
  scatterShape,
  sortRuns,
  tableColumns,
} from "../src/compare/compareShape";

function run(id: string, overrides: Partial<CompareRun> = {}): CompareRun {
  return { run_id: id, run_name: id, experiment_name: "exp", status: "FINISHED", start_time: 1000, params: {}, metrics: {}, ...overrides };
}

function series(runId: string, key: string, values: (number | null)[], overrides: Partial<CompareSeries> = {}): CompareSeries {
  return {
    run_id: runId,
    key,
    steps: values.map((_, i) => i),
    timestamps: values.map((_, i) => 1000 + i * 1000),
    values,
    total_points: values.length,
    downsampled: false,
    ...overrides,
  };
}

function data(runs: CompareRun[], rest: Partial<CompareDataWire> = {}): CompareDataWire {
  return { runs, param_keys: [], changed_param_keys: [], metric_keys: [], series: [], ...rest };
}

test("every run gets its own colour, the theme's first", () => {
  const theme = ["#111111", "#222222", "#333333"];
  const colors = runColors(120, theme);
  assert.equal(colors.length, 120);
  assert.deepEqual(colors.slice(0, 3), theme);
  assert.equal(new Set(colors).size, 120);
  assert.deepEqual(runColors(2, theme), ["#111111", "#222222"]);
  assert.equal(runColors(4, []).length, 4);
});

test("hide unchanged keeps only the changed params; metrics always follow", () => {
  const compare = data([run("a")], { param_keys: ["lr", "seed", "opt"], changed_param_keys: ["lr", "opt"], metric_keys: ["loss"] });
  assert.deepEqual(
    tableColumns(compare, true).map((column) => column.id),
    ["name", "status", "param:lr", "param:opt", "metric:loss"],
  );
  assert.deepEqual(
    tableColumns(compare, false).map((column) => column.id),
    ["name", "status", "param:lr", "param:seed", "param:opt", "metric:loss"],
  );
});

test("sorting: numbers by value, missing values last either way, ties in server order", () => {
  const runs = [
    run("a", { params: { lr: "10" }, metrics: { loss: 0.5 } }),
    run("b", { params: { lr: "9" }, metrics: { loss: null } }),
    run("c", { params: {}, metrics: { loss: 0.1 } }),
    run("d", { params: { lr: "9" }, metrics: { loss: 0.9 } }),
    run("e", { params: { lr: "adam" } }),
  ];
  const columns = tableColumns(data(runs, { param_keys: ["lr"], changed_param_keys: ["lr"], metric_keys: ["loss"] }), true);
  const lr = columns.find((column) => column.id === "param:lr");
  const loss = columns.find((column) => column.id === "metric:loss");
  assert.ok(lr && loss);
  const ids = (sorted: CompareRun[]): string[] => sorted.map((one) => one.run_id);
  assert.deepEqual(ids(sortRuns(runs, lr, false)), ["b", "d", "a", "e", "c"]);
  assert.deepEqual(ids(sortRuns(runs, lr, true)), ["e", "a", "b", "d", "c"]);
  assert.deepEqual(ids(sortRuns(runs, loss, false)), ["c", "a", "d", "b", "e"]);
  assert.deepEqual(ids(sortRuns(runs, loss, true)), ["d", "a", "c", "b", "e"]);
  const byName = columns[0];
  assert.deepEqual(ids(sortRuns([run("run10"), run("run9"), run("Run1")], byName, false)), ["Run1", "run9", "run10"]);
  assert.deepEqual(runs.map((one) => one.run_id), ["a", "b", "c", "d", "e"], "the input keeps its order");
});

test("line rows by step: one per finite point of each run, smoothed", () => {
  const compare = data([run("a"), run("b")], {
    metric_keys: ["loss", "acc"],
    series: [series("a", "loss", [4, 2, null, 1]), series("b", "loss", [3, 3]), series("a", "acc", [0.5])],
  });
  const shape = lineShape(compare, "loss", "step", 0);
  assert.equal(shape.xTitle, "step");
  assert.deepEqual(shape.rows, [
    { run_id: "a", run_name: "a", x: 0, y: 4 },
    { run_id: "a", run_name: "a", x: 1, y: 2 },
    { run_id: "a", run_name: "a", x: 3, y: 1 },
    { run_id: "b", run_name: "b", x: 0, y: 3 },
    { run_id: "b", run_name: "b", x: 1, y: 3 },
  ]);
  const smoothed = lineShape(compare, "loss", "step", 0.5).rows.filter((row) => row.run_id === "a");
  assert.equal(smoothed[0].y, 4);
  assert.ok(Math.abs(smoothed[1].y - 2 / 0.75) < 1e-12);
  assert.deepEqual(
    lineShape(compare, "loss", "step", 0, new Set(["a"])).rows.map((row) => row.run_id),
    ["b", "b"],
    "a hidden run draws nothing",
  );
  assert.deepEqual(lineShape(compare, "nope", "step", 0).rows, []);
});

test("relative wall time starts at each run's start and picks a readable unit", () => {
  const compare = data([run("a", { start_time: 1000 }), run("b", { start_time: null })], {
    metric_keys: ["loss"],
    series: [
      series("a", "loss", [1, 2], { timestamps: [1000, 31_000] }),
      series("b", "loss", [1, 2], { timestamps: [500_000, 530_000] }),
    ],
  });
  const seconds = lineShape(compare, "loss", "relativeTime", 0);
  assert.equal(seconds.xTitle, "seconds since run start");
  assert.deepEqual(seconds.rows.map((row) => row.x), [0, 30, 0, 30], "b has no start time: its first point is 0");
  const long = data([run("a", { start_time: 0 })], {
    metric_keys: ["loss"],
    series: [series("a", "loss", [1, 2], { timestamps: [0, 3_600_000] })],
  });
  const minutes = lineShape(long, "loss", "relativeTime", 0);
  assert.equal(minutes.xTitle, "minutes since run start");
  assert.deepEqual(minutes.rows.map((row) => row.x), [0, 60]);
  const days = data([run("a", { start_time: 0 })], {
    metric_keys: ["loss"],
    series: [series("a", "loss", [1, 2], { timestamps: [0, 36_000_000] })],
  });
  assert.equal(lineShape(days, "loss", "relativeTime", 0).xTitle, "hours since run start");
});

test("the downsampling note counts the logged and the drawn points", () => {
  const compare = data([run("a"), run("b")], {
    metric_keys: ["loss"],
    series: [
      series("a", "loss", [1, 2, 3], { total_points: 50_000, downsampled: true }),
      series("b", "loss", [1, 2], { total_points: 2 }),
    ],
  });
  assert.equal(downsampleNote(compare, "loss"), "1 run downsampled from 50,000 points (3 drawn)");
  assert.equal(downsampleNote(compare, "acc"), "");
});

test("scatter: numeric params on a quantitative axis, others nominal; runs lacking values are counted", () => {
  const compare = data(
    [
      run("a", { params: { lr: "0.1", opt: "adam" }, metrics: { loss: 1 } }),
      run("b", { params: { lr: "1e-3", opt: "sgd" }, metrics: { loss: 2 } }),
      run("c", { params: { opt: "sgd" }, metrics: { loss: null } }),
      run("d", { params: { lr: "0.5" } }),
    ],
    { param_keys: ["lr", "opt"], metric_keys: ["loss"] },
  );
  assert.equal(isNumericParam(compare, "lr"), true);
  assert.equal(isNumericParam(compare, "opt"), false);
  assert.equal(isNumericParam(compare, "missing"), false);
  assert.equal(isNumericParam(data([run("a", { params: { n: "12abc" } })]), "n"), false);
  const numeric = scatterShape(compare, "lr", "loss");
  assert.equal(numeric.numeric, true);
  assert.deepEqual(numeric.rows, [
    { run_id: "a", run_name: "a", x: 0.1, y: 1 },
    { run_id: "b", run_name: "b", x: 0.001, y: 2 },
  ]);
  assert.equal(numeric.skipped, 2);
  const nominal = scatterShape(compare, "opt", "loss");
  assert.equal(nominal.numeric, false);
  assert.deepEqual(nominal.rows.map((row) => row.x), ["adam", "sgd"]);
});

test("parallel coordinates: numeric axes min-max, categories evenly spaced, missing below", () => {
  const compare = data(
    [
      run("a", { params: { lr: "0.1", opt: "sgd", seed: "1" }, metrics: { loss: 2, acc: 0.5 } }),
      run("b", { params: { lr: "0.3", opt: "adam", seed: "1" }, metrics: { loss: 4, acc: null } }),
      run("c", { params: { lr: "0.2", seed: "1" }, metrics: { loss: 3 } }),
    ],
    { param_keys: ["lr", "opt", "seed"], changed_param_keys: ["lr", "opt"], metric_keys: ["loss", "acc"] },
  );
  const shape = parallelShape(compare, ["loss", "unknown"], "acc");
  assert.deepEqual(
    shape.axes.map((axis) => [axis.label, axis.numeric]),
    [
      ["lr", true],
      ["opt", false],
      ["loss", true],
    ],
  );
  const y = (runId: string, axis: string): number | undefined => shape.rows.find((row) => row.run_id === runId && row.axis === axis)?.y;
  assert.ok(Math.abs((y("a", "lr") ?? -1) - 0) < 1e-12);
  assert.ok(Math.abs((y("c", "lr") ?? -1) - 0.5) < 1e-12);
  assert.ok(Math.abs((y("b", "lr") ?? -1) - 1) < 1e-12);
  assert.equal(y("b", "opt"), 0, "adam before sgd");
  assert.equal(y("a", "opt"), 1);
  assert.equal(y("c", "opt"), MISSING_POSITION);
  assert.equal(shape.rows.length, 3 * 3);
  assert.deepEqual(
    shape.rows.filter((row) => row.axis === "lr").map((row) => row.color),
    [0.5, null, null],
    "a run without a finite colouring metric is uncoloured",
  );
  assert.deepEqual(
    shape.ticks.filter((tick) => tick.axis === "opt").map((tick) => tick.label),
    ["adam", "sgd", "(none)"],
  );
  assert.equal(shape.rows.find((row) => row.run_id === "c" && row.axis === "opt")?.value, "(none)");
});

test("parallel coordinates: a metric named like a param gets its own axis; one value sits mid-axis", () => {
  const compare = data(
    [run("a", { params: { loss: "l1" }, metrics: { loss: 1 } }), run("b", { params: { loss: "l2" }, metrics: { loss: 1 } })],
    { param_keys: ["loss"], changed_param_keys: ["loss"], metric_keys: ["loss"] },
  );
  assert.deepEqual(
    parallelAxes(compare, ["loss"]).map((axis) => axis.label),
    ["loss", "loss (metric)"],
  );
  const shape = parallelShape(compare, ["loss"], "loss");
  assert.deepEqual(
    shape.rows.filter((row) => row.axis === "loss (metric)").map((row) => row.y),
    [0.5, 0.5],
  );
});

test("120 runs x 3 metrics x 1000 points shape quickly into the right row counts", () => {
  const metrics = ["loss", "acc", "lr"];
  const runs: CompareRun[] = [];
  const allSeries: CompareSeries[] = [];
  for (let r = 0; r < 120; r++) {
    const id = `run-${r}`;
    runs.push(
      run(id, {
        run_name: r === 7 ? "<script>alert(1)</script>" : `trial ${r}`,
        start_time: 1_700_000_000_000,
        params: { lr: String(0.001 * (r + 1)), opt: r % 2 === 0 ? "adam" : "sgd", seed: "42" },
        metrics: Object.fromEntries(metrics.map((key, m) => [key, r * 0.01 + m])),
      }),
    );
    for (const key of metrics) {
      const values = Array.from({ length: 1000 }, (_, i) => Math.sin(i / 50 + r) + (i % 7) / 10);
      allSeries.push(
        series(id, key, values, {
          timestamps: values.map((_, i) => 1_700_000_000_000 + i * 250),
          total_points: 20_000,
          downsampled: true,
        }),
      );
    }
  }
  const compare = data(runs, { param_keys: ["lr", "opt", "seed"], changed_param_keys: ["lr", "opt"], metric_keys: metrics, series: allSeries });

  const started = performance.now();
  for (const key of metrics) {
    for (const xAxis of ["step", "relativeTime"] as const) {
      const shape = lineShape(compare, key, xAxis, 0.6);
      assert.equal(shape.rows.length, 120 * 1000);
    }
  }
  const columns = tableColumns(compare, true);
  assert.equal(columns.length, 2 + 2 + 3);
  for (const column of columns) {
    assert.equal(sortRuns(compare.runs, column, true).length, 120);
  }
  const parallel = parallelShape(compare, metrics, "loss");
  assert.equal(parallel.rows.length, 120 * (2 + 3));
  assert.equal(scatterShape(compare, "lr", "acc").rows.length, 120);
  const elapsed = performance.now() - started;
  assert.ok(elapsed < 1500, `shaping took ${elapsed.toFixed(0)} ms`);
  assert.equal(downsampleNote(compare, "loss"), "120 runs downsampled from 2,400,000 points (120,000 drawn)");
  assert.equal(lineShape(compare, "loss", "step", 0).rows.find((row) => row.run_id === "run-7")?.run_name, "<script>alert(1)</script>");
});
