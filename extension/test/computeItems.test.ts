import { strict as assert } from "node:assert";
import { test } from "node:test";
import {
  ComputeContext,
  describeResources,
  itemSpec,
  parseTargetSettings,
  rootNodes,
  targetChoices,
} from "../src/compute/computeItems";
import type { ComputeTargetState, ListComputeTargetsResult } from "../src/protocol";

const LOCAL: ComputeTargetState = {
  name: "Local",
  kind: "local",
  address: null,
  managed: false,
  reachable: true,
  nodes: 1,
  cpus: null,
  gpus: null,
  error: null,
};
const STOPPED: ComputeTargetState = { ...LOCAL, name: "Local Ray cluster", kind: "ray", managed: true, reachable: false, nodes: null };
const RUNNING: ComputeTargetState = { ...STOPPED, address: "http://127.0.0.1:41235", reachable: true, nodes: 1, cpus: 2, gpus: 0 };
const REMOTE: ComputeTargetState = {
  ...RUNNING,
  name: "lab",
  managed: false,
  address: "http://10.0.0.5:8265",
  nodes: 4,
  cpus: 64,
  gpus: 8,
};
const DOWN: ComputeTargetState = {
  ...REMOTE,
  name: "old",
  address: "http://10.0.0.9:8265",
  reachable: false,
  nodes: null,
  cpus: null,
  gpus: null,
  error: "cannot reach Ray at http://10.0.0.9:8265 within 5 s",
};

test("rows: every target, then the tracking server", () => {
  const result: ListComputeTargetsResult = { targets: [LOCAL, STOPPED, REMOTE], trackingServer: null };
  const nodes = rootNodes(result);
  assert.deepEqual(
    nodes.map((n) => n.kind),
    ["target", "target", "target", "tracking"],
  );
  assert.equal(itemSpec(nodes[3]).contextValue, ComputeContext.TRACKING_STOPPED);
});

test("the managed cluster's row offers Start when stopped and Stop when running", () => {
  assert.equal(itemSpec({ kind: "target", target: STOPPED }).contextValue, ComputeContext.CLUSTER_STOPPED);
  assert.equal(itemSpec({ kind: "target", target: STOPPED }).description, "stopped");
  const running = itemSpec({ kind: "target", target: RUNNING });
  assert.equal(running.contextValue, ComputeContext.CLUSTER_RUNNING);
  assert.equal(running.description, "running · 1 node · 2 CPUs");
  assert.equal(running.id, "compute:managed"); // the same row across start/stop keeps its place
});

test("a remote target shows its resources, an unreachable one why", () => {
  const up = itemSpec({ kind: "target", target: REMOTE });
  assert.equal(up.description, "4 nodes · 64 CPUs · 8 GPUs");
  assert.equal(up.contextValue, ComputeContext.RAY);
  const down = itemSpec({ kind: "target", target: DOWN });
  assert.equal(down.description, "unreachable");
  assert.match(down.tooltip, /cannot reach Ray at http:\/\/10\.0\.0\.9:8265/);
  assert.match(down.accessibilityLabel, /unreachable/);
  assert.equal(down.icon.color, "problemsErrorIcon.foreground");
});

test("resources: GPUs only when there are some, fractions kept", () => {
  assert.equal(describeResources({ ...REMOTE, gpus: 0 }), "4 nodes · 64 CPUs");
  assert.equal(describeResources({ ...REMOTE, nodes: 1, cpus: 1.5, gpus: 1 }), "1 node · 1.5 CPUs · 1 GPU");
  assert.equal(describeResources(STOPPED), "");
});

test("the tracking server row names its URI and backend, never more", () => {
  const spec = itemSpec({
    kind: "tracking",
    server: { uri: "http://127.0.0.1:5001", backend: "postgresql+psycopg://ml:***@127.0.0.1:5432/runs", pid: 42 },
  });
  assert.equal(spec.contextValue, ComputeContext.TRACKING_RUNNING);
  assert.equal(spec.description, "http://127.0.0.1:5001");
  assert.match(spec.tooltip, /\*\*\*/);
});

test("Run on… offers reachable clusters and the stopped local one, lists unreachable ones apart", () => {
  const { choices, unreachable } = targetChoices([LOCAL, STOPPED, REMOTE, DOWN]);
  assert.deepEqual(
    choices.map((c) => [c.label, c.target?.address, c.startCluster ?? false]),
    [
      ["$(play) Local Ray cluster", undefined, true],
      ["$(server-environment) lab", "http://10.0.0.5:8265", false],
      ["$(vm) Local", undefined, false],
    ],
  );
  assert.deepEqual(unreachable, ["old: cannot reach Ray at http://10.0.0.9:8265 within 5 s"]);
  const started = targetChoices([LOCAL, RUNNING]).choices[0];
  assert.deepEqual(started.target, { name: "Local Ray cluster", address: "http://127.0.0.1:41235" });
});

test("the setting: good entries kept, each bad one named", () => {
  const { targets, problems } = parseTargetSettings([
    { name: " lab ", address: "http://10.0.0.5:8265/" },
    { name: "lab", address: "http://10.0.0.6:8265" },
    { name: "shell", address: "http://x:1; touch pwned" },
    { name: "ftp", address: "ftp://10.0.0.5" },
    { address: "http://10.0.0.7:8265" },
    "http://10.0.0.8:8265",
  ]);
  assert.deepEqual(targets, [{ name: "lab", address: "http://10.0.0.5:8265" }]);
  assert.equal(problems.length, 5);
  assert.match(problems[0], /\[1\].*used twice/);
  assert.match(problems[1], /\[2\] \(shell\).*http\(s\):\/\/host:port/);
  assert.match(problems[2], /\[3\] \(ftp\)/);
  assert.match(problems[3], /\[4\] has no name/);
  assert.match(problems[4], /\[5\] is not/);
  assert.deepEqual(parseTargetSettings(undefined), { targets: [], problems: [] });
  assert.equal(parseTargetSettings({ name: "x" }).problems.length, 1);
});
