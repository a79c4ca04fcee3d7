import { strict as assert } from "node:assert";
import { test } from "node:test";
import { RestartPolicy } from "../src/common/restartPolicy";

test("delays double from the base and stop after the crash budget", () => {
  const policy = new RestartPolicy(3, 60_000, 500, 8_000);
  assert.deepEqual(policy.onCrash(0), { restart: true, delayMs: 500, attempt: 1 });
  assert.deepEqual(policy.onCrash(1_000), { restart: true, delayMs: 1_000, attempt: 2 });
  assert.deepEqual(policy.onCrash(2_000), { restart: true, delayMs: 2_000, attempt: 3 });
  assert.equal(policy.onCrash(3_000).restart, false);
});

test("delays are capped", () => {
  const policy = new RestartPolicy(10, 60_000, 500, 3_000);
  const delays = Array.from({ length: 6 }, (_, i) => policy.onCrash(i).delayMs);
  assert.deepEqual(delays, [500, 1_000, 2_000, 3_000, 3_000, 3_000]);
});

test("crashes older than the window are forgotten", () => {
  const policy = new RestartPolicy(2, 10_000);
  policy.onCrash(0);
  policy.onCrash(1_000);
  assert.equal(policy.onCrash(2_000).restart, false);
  assert.deepEqual(policy.onCrash(30_000), { restart: true, delayMs: 500, attempt: 1 });
});

test("reset gives a deliberate restart a clean slate", () => {
  const policy = new RestartPolicy(1, 60_000);
  policy.onCrash(0);
  assert.equal(policy.onCrash(1).restart, false);
  policy.reset();
  assert.equal(policy.onCrash(2).restart, true);
});
