import { strict as assert } from "node:assert";
import { test } from "node:test";
import { ExtensionMessage, ExtensionMessageType, MetricPoint } from "../src/webview/contract";
import { LiveMetricsFeed, REPLAY_CHUNK } from "../src/launch/liveMetricsFeed";

function points(count: number, key = "loss", from = 0): MetricPoint[] {
  return Array.from({ length: count }, (_, i) => ({ key, value: i / 10, step: from + i, timestamp: 1_000 + i }));
}

function feed(): { feed: LiveMetricsFeed; sent: ExtensionMessage[] } {
  const sent: ExtensionMessage[] = [];
  return { feed: new LiveMetricsFeed("run-1", "my run", (message) => sent.push(message)), sent };
}

test("holds everything until the webview is ready, then sends init, points and status", () => {
  const { feed: f, sent } = feed();
  f.addPoints(points(3));
  f.setStatus("RUNNING");
  f.addPoints(points(2, "acc"));
  assert.equal(sent.length, 0);
  f.webviewReady();
  assert.deepEqual(
    sent.map((m) => m.type),
    ["init", "points", "status"],
  );
  assert.deepEqual(sent[0], { type: "init", runId: "run-1", title: "my run" });
  assert.equal(sent[1].type === ExtensionMessageType.POINTS && sent[1].points.length, 5);
  assert.deepEqual(sent[2], { type: "status", status: "RUNNING" });
});

test("forwards points and status as they come once ready", () => {
  const { feed: f, sent } = feed();
  f.webviewReady();
  assert.deepEqual(
    sent.map((m) => m.type),
    ["init"],
  );
  f.addPoints(points(1));
  f.addPoints([]);
  f.setStatus("FAILED", "ValueError: boom");
  assert.deepEqual(sent.slice(1), [
    { type: "points", points: [{ key: "loss", value: 0, step: 0, timestamp: 1_000 }] },
    { type: "status", status: "FAILED", detail: "ValueError: boom" },
  ]);
});

test("a reloaded webview gets the whole run again, not just what it missed", () => {
  const { feed: f, sent } = feed();
  f.webviewReady();
  f.addPoints(points(2));
  f.webviewGone();
  f.addPoints(points(2, "loss", 2)); // arrives while hidden
  assert.equal(sent.length, 2);
  sent.length = 0;
  f.webviewReady();
  assert.equal(sent[0].type, "init");
  assert.deepEqual(
    sent[1].type === ExtensionMessageType.POINTS && sent[1].points.map((p) => p.step),
    [0, 1, 2, 3],
  );
  assert.equal(f.points.length, 4);
});

test("a long run is replayed in chunks, in order, non-finite values as null", () => {
  const { feed: f, sent } = feed();
  const many = points(REPLAY_CHUNK * 2 + 5);
  many[7].value = Number.NaN;
  f.addPoints(many);
  f.webviewReady();
  const chunks = sent.filter((m) => m.type === ExtensionMessageType.POINTS);
  assert.deepEqual(
    chunks.map((m) => m.points.length),
    [REPLAY_CHUNK, REPLAY_CHUNK, 5],
  );
  const steps = chunks.flatMap((m) => m.points.map((p) => p.step));
  assert.deepEqual(steps, many.map((p) => p.step));
  assert.equal(chunks[0].points[7].value, null);
});
