import { strict as assert } from "node:assert";
import { test } from "node:test";
import { buildSummary, deploymentFile, duration, formatResponse, prettyBody, statusLine } from "../src/deploy/deployFormat";

const AT = new Date("2025-06-01T10:00:00.000Z");

test("an answer shows the status, the time and the body pretty-printed", () => {
  const text = formatResponse({ status: 200, body: '{"predictions":[0,1]}', elapsedMs: 12.34 }, { name: "iris", url: "http://127.0.0.1:49153" }, AT);
  assert.equal(
    text,
    [
      "// HTTP 200 OK \u00b7 12 ms",
      "// iris (http://127.0.0.1:49153) \u00b7 POST /invocations \u00b7 2025-06-01T10:00:00.000Z",
      "{",
      '  "predictions": [',
      "    0,",
      "    1",
      "  ]",
      "}",
      "",
    ].join("\n"),
  );
});

test("a 4xx is shown the same way, with the container's reason", () => {
  const text = formatResponse({ status: 422, body: '{"error_code":"BAD_REQUEST","message":"missing column sepal_width"}', elapsedMs: 3.2 }, { name: "iris" }, AT);
  assert.match(text, /^\/\/ HTTP 422 Unprocessable Entity \u00b7 3\.2 ms\n/);
  assert.match(text, /refused the request/);
  assert.match(text, /"message": "missing column sepal_width"/);
});

test("a body that is not JSON is shown as it came", () => {
  assert.equal(prettyBody("Payload too large"), "Payload too large");
  assert.equal(statusLine(299), "299");
  assert.equal(statusLine(413), "413 Payload Too Large");
});

test("a build's summary has its size and time, and the smoke test's verdict", () => {
  const result = { tag: "iris:1", imageId: "sha256:x", sizeBytes: 412_000_000, buildSeconds: 83, logPath: "/tmp/log", smoke: null };
  assert.equal(buildSummary(result), "Built iris:1 (412 MB) in 1 min 23 s.");
  const smoke = { url: "http://127.0.0.1:1", healthyAfterS: 3.21, user: "10001:10001", readOnlyRoot: true, predictionsMatch: true };
  assert.match(buildSummary({ ...result, smoke }), /healthy after 3\.2 s and its predictions match/);
  assert.match(buildSummary({ ...result, smoke: { ...smoke, predictionsMatch: false } }), /differ/);
  assert.equal(duration(42.4), "42 s");
});

test("after writing manifests the Deployment opens", () => {
  assert.equal(deploymentFile(["/w/k8s/service.yaml", "/w/k8s/deployment.yaml"]), "/w/k8s/deployment.yaml");
  assert.equal(deploymentFile(["/w/k8s/other.yaml"]), "/w/k8s/other.yaml");
  assert.equal(deploymentFile([]), undefined);
});
