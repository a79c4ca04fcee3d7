import { strict as assert } from "node:assert";
import { test } from "node:test";
import { chooseInterpreter, describeSource, PATH_FALLBACK } from "../src/common/interpreterChoice";

test("the Python extension's choice wins in a trusted workspace", () => {
  const choice = chooseInterpreter({
    fromPythonExtension: "/envs/a/bin/python",
    fromSetting: "/usr/bin/python3.12",
    workspaceVenv: "/ws/.venv/bin/python",
    trusted: true,
  });
  assert.deepEqual(choice, { path: "/envs/a/bin/python", source: "python-extension" });
});

test("the setting is used when the Python extension is absent", () => {
  const choice = chooseInterpreter({ fromSetting: "/opt/py/bin/python", workspaceVenv: "/ws/.venv/bin/python", trusted: true });
  assert.deepEqual(choice, { path: "/opt/py/bin/python", source: "setting" });
});

test("the workspace .venv comes next, then python3 on PATH", () => {
  assert.deepEqual(chooseInterpreter({ workspaceVenv: "/ws/.venv/bin/python", trusted: true }), {
    path: "/ws/.venv/bin/python",
    source: "workspace-venv",
  });
  assert.deepEqual(chooseInterpreter({ trusted: true }), { path: PATH_FALLBACK, source: "path" });
});

test("an untrusted workspace never picks its own .venv or the workspace's Python extension choice", () => {
  const choice = chooseInterpreter({
    fromPythonExtension: "/ws/.venv/bin/python",
    workspaceVenv: "/ws/.venv/bin/python",
    trusted: false,
  });
  assert.deepEqual(choice, { path: PATH_FALLBACK, source: "path" });
});

test("every source has words for messages", () => {
  for (const source of ["python-extension", "setting", "workspace-venv", "path"] as const) {
    assert.ok(describeSource(source).length > 5);
  }
});
