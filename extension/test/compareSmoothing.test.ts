import { strict as assert } from "node:assert";
import { test } from "node:test";
import { clampSmoothing, smoothValues } from "../src/compare/compareSmoothing";

function close(actual: (number | null)[], expected: (number | null)[]): void {
  assert.equal(actual.length, expected.length);
  actual.forEach((value, i) => {
    const want = expected[i];
    if (want === null || value === null || !Number.isFinite(want)) {
      assert.ok(Object.is(value, want), `point ${i}: ${value} vs ${want}`);
    } else {
      assert.ok(Math.abs(value - want) < 1e-12, `point ${i}: ${value} vs ${want}`);
    }
  });
}

test("weight 0 leaves the values as they are, in a new array", () => {
  const values = [3, 1, 2];
  const smoothed = smoothValues(values, 0);
  assert.deepEqual(smoothed, values);
  assert.notEqual(smoothed, values);
});

test("matches TensorBoard's debiased EMA", () => {
  // last = last*w + (1-w)*v from 0, divided by 1 - w^n.
  close(smoothValues([1, 2, 3], 0.5), [1, 1.25 / 0.75, 2.125 / 0.875]);
  const weight = 0.9;
  let last = 0;
  const values = [10, 4, 7, 1, 9, 3];
  const expected = values.map((value, i) => {
    last = last * weight + (1 - weight) * value;
    return last / (1 - weight ** (i + 1));
  });
  close(smoothValues(values, weight), expected);
});

test("the first point is never pulled towards zero", () => {
  assert.equal(smoothValues([100, 0], 0.99)[0], 100);
});

test("a constant series stays exactly constant", () => {
  assert.deepEqual(smoothValues([0.1, 0.1, 0.1, 0.1], 0.95), [0.1, 0.1, 0.1, 0.1]);
});

test("missing and non-finite values pass through and stay out of the average", () => {
  const smoothed = smoothValues([1, null, Number.NaN, 3, Number.POSITIVE_INFINITY], 0.5);
  const clean = smoothValues([1, 3], 0.5);
  close(smoothed, [clean[0], null, Number.NaN, clean[1], Number.POSITIVE_INFINITY]);
});

test("heavier smoothing flattens a noisy series more", () => {
  const noisy = Array.from({ length: 200 }, (_, i) => (i % 2 === 0 ? 1 : -1));
  const spread = (values: (number | null)[]): number => {
    const tail = values.slice(100) as number[];
    return Math.max(...tail) - Math.min(...tail);
  };
  assert.ok(spread(smoothValues(noisy, 0.9)) < spread(smoothValues(noisy, 0.5)));
  assert.ok(spread(smoothValues(noisy, 0.5)) < 2);
});

test("the input is not changed", () => {
  const values = [5, 6, 7];
  smoothValues(values, 0.6);
  assert.deepEqual(values, [5, 6, 7]);
});

test("the weight is clamped to [0, 0.99]", () => {
  assert.equal(clampSmoothing(1), 0.99);
  assert.equal(clampSmoothing(5), 0.99);
  assert.equal(clampSmoothing(-0.2), 0);
  assert.equal(clampSmoothing(Number.NaN), 0);
  assert.equal(clampSmoothing(0.42), 0.42);
  // A weight of 1 would freeze the line at its first value; 0.99 still moves.
  const smoothed = smoothValues([0, 10, 10, 10], 1);
  assert.ok((smoothed[3] as number) > 0);
});
