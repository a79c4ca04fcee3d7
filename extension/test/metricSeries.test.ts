import { strict as assert } from "node:assert";
import { test } from "node:test";
import type { MetricPoint, WireMetricPoint } from "../src/webview/contract";
import { MAX_DRAWN_POINTS, MetricSeries } from "../src/webview/metricSeries";

function point(step: number, value: number | null = Math.sin(step / 50) * 10): WireMetricPoint {
  return { key: "loss", value, step, timestamp: 1_700_000_000_000 + step * 1000 };
}

/** Applies deltas to a set the way the chart applies changesets to its data. */
class FakeChartData {
  readonly tuples = new Set<MetricPoint>();
  apply(series: MetricSeries): void {
    const { remove, insert } = series.takeDelta();
    for (const tuple of remove) {
      assert.ok(this.tuples.delete(tuple), "removes only what it inserted");
    }
    for (const tuple of insert) {
      assert.ok(!this.tuples.has(tuple), "never inserts a tuple twice");
      this.tuples.add(tuple);
    }
  }
}

test("draws every point up to the limit, sending only new points each time", () => {
  const series = new MetricSeries("loss");
  for (let step = 0; step < 10; step++) {
    series.push(point(step));
  }
  assert.equal(series.takeDelta().insert.length, 10);
  series.push(point(10));
  series.push(point(11));
  const delta = series.takeDelta();
  assert.deepEqual(delta.remove, []);
  assert.deepEqual(
    delta.insert.map((p) => p.step),
    [10, 11],
  );
  for (let step = 12; step < MAX_DRAWN_POINTS; step++) {
    series.push(point(step));
  }
  assert.equal(series.drawn().length, MAX_DRAWN_POINTS);
  assert.equal(series.downsampled, false);
});

test("past the limit it draws at most the limit, keeping extremes and the newest point", () => {
  const series = new MetricSeries("loss");
  const chart = new FakeChartData();
  const total = 50_000;
  for (let step = 0; step < total; step++) {
    const spike = step === 31_337 ? 1_000 : step === 12_345 ? -1_000 : undefined;
    series.push(point(step, spike));
    if (step % 997 === 0) {
      chart.apply(series);
      assert.ok(chart.tuples.size <= MAX_DRAWN_POINTS);
    }
  }
  chart.apply(series);
  const drawn = series.drawn();
  assert.ok(series.downsampled);
  assert.ok(drawn.length <= MAX_DRAWN_POINTS, `${drawn.length} drawn`);
  assert.ok(drawn.length >= MAX_DRAWN_POINTS / 2, `${drawn.length} drawn`);
  assert.deepEqual(new Set(drawn), chart.tuples, "the deltas rebuild exactly what is drawn");
  const steps = drawn.map((p) => p.step);
  assert.ok(steps.includes(31_337), "the spike survives");
  assert.ok(steps.includes(12_345), "the dip survives");
  assert.ok(steps.includes(total - 1), "the line reaches the newest point");
  assert.ok(steps.includes(0), "and starts at the first");
  assert.equal(series.count, total);
  assert.equal(series.max, 1_000);
  assert.equal(series.min, -1_000);
  assert.equal(series.last?.step, total - 1);
});

test("the table figures stay exact while drawing is downsampled", () => {
  const series = new MetricSeries("acc", 100);
  for (let step = 0; step < 1_000; step++) {
    series.push(point(step, step / 1000));
  }
  assert.ok(series.drawn().length <= 100);
  assert.equal(series.last?.value, 0.999);
  assert.equal(series.min, 0);
  assert.equal(series.max, 0.999);
});

test("a delta after resetDelta inserts everything, for a chart rebuilt empty", () => {
  const series = new MetricSeries("loss", 100);
  for (let step = 0; step < 500; step++) {
    series.push(point(step));
  }
  series.takeDelta();
  series.resetDelta();
  const delta = series.takeDelta();
  assert.deepEqual(delta.remove, []);
  assert.deepEqual(delta.insert, series.drawn());
});

test("non-finite values are counted and listed but not drawn", () => {
  const series = new MetricSeries("loss");
  series.push(point(0, 1));
  series.push(point(1, null));
  assert.equal(series.count, 2);
  assert.equal(series.last?.value, null);
  assert.deepEqual(
    series.drawn().map((p) => p.step),
    [0],
  );
  assert.equal(series.min, 1);
});

test("the last value is the one with the highest step, whatever the arrival order", () => {
  const series = new MetricSeries("loss");
  series.push(point(5, 0.5));
  series.push(point(3, 0.3));
  assert.equal(series.last?.value, 0.5);
  series.push(point(5, 0.4)); // logged again at the same step: the later one wins
  assert.equal(series.last?.value, 0.4);
});

test("a tiny limit still terminates and stays within bounds", () => {
  const series = new MetricSeries("loss", 3);
  for (let step = 0; step < 100; step++) {
    series.push(point(step));
    assert.ok(series.drawn().length <= 3);
  }
});
