import { strict as assert } from "node:assert";
import { test } from "node:test";
import {
  containerDescription,
  DeployContext,
  DOCKER_DOCS,
  isStarting,
  itemSpec,
  megabytes,
  rootNodes,
  sectionNodes,
} from "../src/deploy/deploymentItems";
import type { ContainerEntry, ImageEntry, ListDeploymentsResult } from "../src/protocol";

const IMAGE: ImageEntry = {
  id: "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
  tags: ["mlworkbench-iris:a1b2c3d4", "iris:latest"],
  sizeBytes: 412_345_678,
  created: "2025-06-01T10:00:00Z",
  modelUri: "runs:/a1b2c3d4e5f6/model",
  flavor: "sklearn",
  runId: "a1b2c3d4e5f6",
};

const CONTAINER: ContainerEntry = {
  id: "c0ffee",
  name: "mlworkbench-iris-a1b2",
  image: "mlworkbench-iris:a1b2c3d4",
  status: "running",
  health: "healthy",
  url: "http://127.0.0.1:49153",
  runId: "a1b2c3d4e5f6",
  startedByEditor: true,
};

function listing(overrides: Partial<ListDeploymentsResult> = {}): ListDeploymentsResult {
  return { engine: { status: "running", host: "unix:///var/run/docker.sock" }, images: [IMAGE], containers: [CONTAINER], ...overrides };
}

test("an engine that is not running is one help row with the server's message and fix", () => {
  const result = listing({
    engine: {
      status: "unavailable",
      host: "unix:///var/run/docker.sock",
      message: "No Docker engine at unix:///var/run/docker.sock",
      fix: "Start Docker, or set DOCKER_HOST.",
    },
    images: [],
    containers: [],
  });
  const nodes = rootNodes(result);
  assert.equal(nodes.length, 1);
  const spec = itemSpec(nodes[0]);
  assert.equal(spec.label, "No Docker engine at unix:///var/run/docker.sock");
  assert.equal(spec.description, "Start Docker, or set DOCKER_HOST.");
  assert.match(spec.tooltip ?? "", /Start Docker, or set DOCKER_HOST\./);
  assert.equal(spec.contextValue, DeployContext.ENGINE_HELP);
  assert.equal(spec.opens, DOCKER_DOCS.install);
});

test("permission denied points at Docker's post-install steps", () => {
  const nodes = rootNodes(listing({ engine: { status: "permission-denied", host: "unix:///var/run/docker.sock" } }));
  const spec = itemSpec(nodes[0]);
  assert.equal(spec.opens, DOCKER_DOCS.postInstall);
  assert.match(spec.label, /Permission denied/);
  assert.match(spec.description ?? "", /docker' group/);
});

test("a running engine shows the Images and Containers sections with counts", () => {
  const specs = rootNodes(listing()).map(itemSpec);
  assert.deepEqual(
    specs.map((s) => [s.label, s.description, s.contextValue]),
    [
      ["Images", "1", DeployContext.SECTION_IMAGES],
      ["Containers", "1", DeployContext.SECTION_CONTAINERS],
    ],
  );
});

test("an image row: its tag, size in MB and the run's short id", () => {
  const [node] = sectionNodes(listing(), "images");
  const spec = itemSpec(node);
  assert.equal(spec.label, "mlworkbench-iris:a1b2c3d4");
  assert.equal(spec.description, "412 MB \u00b7 run a1b2c3d4");
  assert.equal(spec.contextValue, "deployImage");
  assert.match(spec.tooltip ?? "", /Also tagged: iris:latest/);
  const untagged = itemSpec({ kind: "image", image: { ...IMAGE, tags: [], runId: undefined, sizeBytes: 12_340_000 } });
  assert.equal(untagged.label, "01234567");
  assert.equal(untagged.description, "12.3 MB");
});

test("a container row: its name and status · health · 127.0.0.1:PORT", () => {
  const [node] = sectionNodes(listing(), "containers");
  const spec = itemSpec(node);
  assert.equal(spec.label, "mlworkbench-iris-a1b2");
  assert.equal(spec.description, "running \u00b7 healthy \u00b7 127.0.0.1:49153");
  assert.equal(spec.contextValue, "deployContainer.running");
  assert.equal(spec.icon.color, "testing.iconPassed");
  const exited = itemSpec({ kind: "container", container: { ...CONTAINER, status: "exited", health: undefined, url: undefined } });
  assert.equal(exited.description, "exited");
  assert.equal(exited.contextValue, "deployContainer.stopped");
  assert.equal(containerDescription({ ...CONTAINER, health: "starting" }), "running \u00b7 starting \u00b7 127.0.0.1:49153");
});

test("empty sections say what to do", () => {
  const empty = listing({ images: [], containers: [] });
  assert.match(itemSpec(sectionNodes(empty, "images")[0]).label, /Build Container/);
  assert.match(itemSpec(sectionNodes(empty, "containers")[0]).label, /Start Container/);
});

test("the view looks again by itself only while a container is starting", () => {
  assert.equal(isStarting(listing()), false);
  assert.equal(isStarting(listing({ containers: [{ ...CONTAINER, health: "starting" }] })), true);
  assert.equal(isStarting(undefined), false);
  assert.equal(isStarting(listing({ engine: { status: "unavailable", host: "x" }, containers: [{ ...CONTAINER, health: "starting" }] })), false);
});

test("sizes are shown in MB", () => {
  assert.equal(megabytes(0), "0.0 MB");
  assert.equal(megabytes(99_940_000), "99.9 MB");
  assert.equal(megabytes(1_234_567_890), "1235 MB");
});
