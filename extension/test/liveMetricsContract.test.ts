import { strict as assert } from "node:assert";
import { test } from "node:test";
import {
  ExtensionMessageType,
  WebviewMessageType,
  isExtensionMessage,
  isLiveMetricsState,
  isWebviewMessage,
  toWirePoint,
} from "../src/webview/contract";

test("accepts exactly the messages a webview may send", () => {
  assert.ok(isWebviewMessage({ type: WebviewMessageType.READY }));
  assert.ok(isWebviewMessage({ type: "exportCsv" }));
});

test("rejects anything else a webview posts", () => {
  for (const message of [
    undefined,
    null,
    "ready",
    42,
    [],
    [{ type: "ready" }],
    {},
    { type: "READY" },
    { type: "init" }, // a type from the other direction
    { type: "exportCsv", path: "/etc/passwd" }, // extra fields are not ignored, they are refused
    { type: { toString: () => "ready" } },
    Object.create({ type: "ready" }) as unknown,
  ]) {
    assert.equal(isWebviewMessage(message), false, JSON.stringify(message));
  }
});

test("checks every point of a points message", () => {
  const point = { key: "loss", value: 0.5, step: 1, timestamp: 1_700_000_000_000 };
  assert.ok(isExtensionMessage({ type: ExtensionMessageType.POINTS, points: [point, { ...point, value: null }] }));
  assert.ok(isExtensionMessage({ type: ExtensionMessageType.POINTS, points: [] }));
  assert.equal(isExtensionMessage({ type: "points", points: [point, { ...point, step: "1" }] }), false);
  assert.equal(isExtensionMessage({ type: "points", points: [{ ...point, key: 3 }] }), false);
  assert.equal(isExtensionMessage({ type: "points", points: [{ ...point, timestamp: Number.NaN }] }), false);
  assert.equal(isExtensionMessage({ type: "points", points: "[]" }), false);
});

test("checks init and status messages", () => {
  assert.ok(isExtensionMessage({ type: "init", runId: "abc", title: "<b>run</b>" }));
  assert.equal(isExtensionMessage({ type: "init", runId: "abc" }), false);
  assert.ok(isExtensionMessage({ type: "status", status: "FAILED", detail: "ValueError: bad" }));
  assert.ok(isExtensionMessage({ type: "status", status: "RUNNING" }));
  assert.equal(isExtensionMessage({ type: "status", status: "running" }), false);
  assert.equal(isExtensionMessage({ type: "status", status: "KILLED", detail: 9 }), false);
  assert.equal(isExtensionMessage({ type: "ready" }), false);
});

test("validates saved webview state before a panel revives from it", () => {
  assert.ok(isLiveMetricsState({ runId: "r1", title: "t", xAxis: "time", metric: "" }));
  assert.equal(isLiveMetricsState({ runId: "r1", title: "t", xAxis: "epoch", metric: "" }), false);
  assert.equal(isLiveMetricsState({ runId: "r1", xAxis: "step", metric: "" }), false);
  assert.equal(isLiveMetricsState(undefined), false);
});

test("non-finite values travel as null and extra fields stay behind", () => {
  const base = { key: "loss", step: 3, timestamp: 5 };
  assert.deepEqual(toWirePoint({ ...base, value: Number.NaN }), { ...base, value: null });
  assert.deepEqual(toWirePoint({ ...base, value: Number.POSITIVE_INFINITY }), { ...base, value: null });
  const withExtra = { ...base, value: 2, runId: "secret" };
  assert.deepEqual(toWirePoint(withExtra), { ...base, value: 2 });
});
