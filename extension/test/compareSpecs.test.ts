// Runs each Compare chart spec the way the webview does: compiled by Vega-Lite, parsed by Vega to
// an AST and evaluated by vega-interpreter, with the Function constructor made to throw, as the
// webview's Content-Security-Policy (no 'unsafe-eval') would. Headless (renderer "none").
import { strict as assert } from "node:assert";
import { test } from "node:test";
import type { CompareDataWire, CompareRun, CompareSeries } from "../src/compare/compareContract";
import { parallelShape } from "../src/compare/compareParallel";
import { lineShape, scatterShape } from "../src/compare/compareShape";
import { LINE_DATA, type RunColorScale, lineSpec, parallelSpec, scatterSpec } from "../src/compare/compareSpecs";

interface SceneItem {
  marktype?: string;
  role?: string;
  items?: SceneItem[];
  datum?: Record<string, unknown>;
}

function fixture(runCount: number): CompareDataWire {
  const runs: CompareRun[] = [];
  const series: CompareSeries[] = [];
  for (let r = 0; r < runCount; r++) {
    const id = `run${r}`;
    runs.push({
      run_id: id,
      run_name: r === 0 ? "<script>alert(1)</script>" : `trial ${r}`,
      experiment_name: "exp",
      status: "FINISHED",
      start_time: 1_700_000_000_000,
      params: { lr: String(0.01 * (r + 1)), opt: r % 2 === 0 ? "adam" : "sgd" },
      metrics: { loss: r === 1 ? null : 1 / (r + 1), acc: r / runCount },
    });
    const values = Array.from({ length: 50 }, (_, i) => 1 / (i + 1 + r));
    series.push({
      run_id: id,
      key: "loss",
      steps: values.map((_, i) => i),
      timestamps: values.map((_, i) => 1_700_000_000_000 + i * 1000),
      values,
      total_points: 50,
      downsampled: false,
    });
  }
  return { runs, param_keys: ["lr", "opt"], changed_param_keys: ["lr", "opt"], metric_keys: ["acc", "loss"], series };
}

function colors(data: CompareDataWire): RunColorScale {
  const domain = data.runs.map((run) => run.run_id);
  return { domain, range: domain.map((_, i) => `hsl(${i * 37}, 60%, 50%)`) };
}

/** Every mark group in the scenegraph, depth first. */
function marks(item: SceneItem, found: SceneItem[] = []): SceneItem[] {
  if (item.marktype !== undefined) {
    found.push(item);
  }
  for (const child of item.items ?? []) {
    marks(child, found);
  }
  return found;
}

async function run(spec: object, data?: { name: string; values: object[] }): Promise<SceneItem[]> {
  const vega = await import("vega");
  const vegaLite = await import("vega-lite");
  const { expressionInterpreter } = await import("vega-interpreter");
  const compiled = vegaLite.compile(spec as Parameters<typeof vegaLite.compile>[0]).spec;
  const original = globalThis.Function;
  const refuse = function (): never {
    throw new Error("code generation is refused, as under the webview's CSP");
  };
  globalThis.Function = refuse as unknown as FunctionConstructor;
  try {
    const view = new vega.View(vega.parse(compiled, undefined, { ast: true }), {
      expr: expressionInterpreter,
      renderer: "none",
    });
    if (data !== undefined) {
      view.data(data.name, data.values);
    }
    await view.runAsync();
    const { root } = view.scenegraph() as unknown as { root: SceneItem };
    view.finalize();
    return marks(root);
  } finally {
    globalThis.Function = original;
  }
}

/** Lines are faceted: one line mark per run (series), whose items are its points. */
function linesOf(found: SceneItem[]): SceneItem[] {
  return found.filter((mark) => mark.marktype === "line" && mark.role === "mark" && (mark.items ?? []).length > 0);
}

function itemsOf(found: SceneItem[], marktype: string): SceneItem[] {
  return found.filter((mark) => mark.marktype === marktype && mark.role === "mark").flatMap((mark) => mark.items ?? []);
}

test("the line chart draws one line per run through the interpreter", async () => {
  const data = fixture(5);
  const shape = lineShape(data, "loss", "relativeTime", 0.6);
  const found = await run(lineSpec("loss", shape.xTitle, colors(data)), { name: LINE_DATA, values: shape.rows });
  const lines = linesOf(found);
  assert.equal(lines.length, 5);
  assert.equal(itemsOf(found, "line").length, shape.rows.length, "every point drawn");
});

test("the scatter draws one point per run with a value, numeric or nominal x", async () => {
  const data = fixture(6);
  for (const param of ["lr", "opt"]) {
    const shape = scatterShape(data, param, "loss");
    assert.equal(shape.rows.length, 5, "run1's loss is non-finite");
    const found = await run(scatterSpec(shape, param, "loss", colors(data)));
    const points = itemsOf(found, "symbol");
    assert.equal(points.length, 5, param);
  }
});

test("the parallel coordinates draw every run, coloured or grey, with axis rules and labels", async () => {
  const data = fixture(6);
  const shape = parallelShape(data, ["loss", "acc"], "loss");
  const found = await run(parallelSpec(shape, "loss", "gray"));
  assert.equal(linesOf(found).length, 6, "one line per run (run1 in grey: no finite loss)");
  assert.equal(itemsOf(found, "line").length, 6 * shape.axes.length);
  assert.equal(itemsOf(found, "rule").length, shape.axes.length);
  const labels = itemsOf(found, "text").map((item) => item.datum?.label);
  assert.ok(labels.includes("adam") && labels.includes("sgd") && labels.includes("(none)"));
});
