import { strict as assert } from "node:assert";
import { test } from "node:test";
import { DOCKER_DOCS } from "../src/deploy/deploymentItems";
import { deployFailure, existingPath, isOutputExists } from "../src/deploy/deployErrors";
import { ErrorCodes } from "../src/protocol";

function serverError(code: number, message: string, data?: unknown): Error & { code: number; data?: unknown } {
  return Object.assign(new Error(message), { code, data });
}

test("an engine that cannot be reached offers How to Fix with Docker's page", () => {
  const down = deployFailure(serverError(ErrorCodes.DOCKER_UNAVAILABLE, "no Docker engine at unix:///var/run/docker.sock"));
  assert.equal(down.message, "no Docker engine at unix:///var/run/docker.sock");
  assert.deepEqual(down.fixes, [{ kind: "openDocs", label: "How to Fix", url: DOCKER_DOCS.install }]);
  assert.equal(down.refresh, true);
  const denied = deployFailure(serverError(ErrorCodes.DOCKER_PERMISSION_DENIED, "permission denied"));
  assert.deepEqual(denied.fixes, [{ kind: "openDocs", label: "How to Fix", url: DOCKER_DOCS.postInstall }]);
});

test("a failed build offers its log (the file the server kept, when named)", () => {
  const failed = deployFailure(serverError(ErrorCodes.IMAGE_BUILD_FAILED, "the image build failed", { reason: "pip", logPath: "/tmp/build.log" }));
  assert.deepEqual(failed.fixes, [{ kind: "showLog", label: "Show Log", logPath: "/tmp/build.log" }]);
  const noFile = deployFailure(serverError(ErrorCodes.CONTAINER_SMOKE_FAILED, "smoke failed", { logPath: null }));
  assert.deepEqual(noFile.fixes, [{ kind: "showLog", label: "Show Log" }]);
});

test("the fix follows the code, never the text", () => {
  assert.equal(deployFailure(serverError(ErrorCodes.UNTRUSTED_WORKSPACE, "trust")).fixes[0]?.kind, "manageTrust");
  assert.equal(deployFailure(serverError(ErrorCodes.MISSING_PACKAGE, "docker is not installed")).fixes[0]?.kind, "setupEnvironment");
  assert.equal(deployFailure(serverError(ErrorCodes.CONTAINER_NOT_FOUND, "gone")).refresh, true);
  assert.deepEqual(deployFailure(new Error("no Docker engine")).fixes, [], "text alone never offers a fix");
  assert.equal(deployFailure("boom").message, "boom");
});

test("OUTPUT_EXISTS is recognised by its code and names the file", () => {
  const exists = serverError(ErrorCodes.OUTPUT_EXISTS, "manifest k8s/deployment.yaml already exists", { path: "/w/k8s/deployment.yaml", what: "manifest" });
  assert.equal(isOutputExists(exists), true);
  assert.equal(existingPath(exists), "/w/k8s/deployment.yaml");
  assert.equal(isOutputExists(serverError(ErrorCodes.IMAGE_BUILD_FAILED, "already exists")), false);
  assert.equal(existingPath(new Error("x")), undefined);
});
