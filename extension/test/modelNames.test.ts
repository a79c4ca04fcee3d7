import { strict as assert } from "node:assert";
import { test } from "node:test";
import { aliasProblem, describeVersion, modelChoices, modelNameProblem, suggestModelName } from "../src/registry/modelNames";

test("model names follow the registry's rules", () => {
  assert.equal(modelNameProblem("iris-classifier"), undefined);
  assert.equal(modelNameProblem("Iris v2 (forest)"), undefined);
  assert.match(modelNameProblem("") ?? "", /Enter/);
  assert.match(modelNameProblem("   ") ?? "", /Enter/);
  assert.match(modelNameProblem(" iris") ?? "", /spaces/);
  assert.match(modelNameProblem("team/iris") ?? "", /'\/'/);
  assert.match(modelNameProblem("team:iris") ?? "", /':'/);
});

test("aliases MLflow reserves or refuses are caught while typing", () => {
  for (const good of ["champion", "staging-2", "prod_eu", "v", "version1", "vnext", "modèle"]) {
    assert.equal(aliasProblem(good), undefined, good);
  }
  assert.match(aliasProblem("") ?? "", /Enter/);
  for (const reserved of ["latest", "LATEST", "v1", "V12"]) {
    assert.match(aliasProblem(reserved) ?? "", /reserves/, reserved);
  }
  for (const bad of ["has space", "a/b", "a.b"]) {
    assert.match(aliasProblem(bad) ?? "", /letters/, bad);
  }
});

test("the suggested name comes from the script, else the experiment", () => {
  assert.equal(suggestModelName({ script: "/ws/src/train_iris.py", experiment_name: "iris" }), "train_iris");
  assert.equal(suggestModelName({ script: "C:\\ws\\fit.py", experiment_name: "x" }), "fit");
  assert.equal(suggestModelName({ script: null, experiment_name: "fraud/eu:v2" }), "fraud-eu-v2");
  assert.equal(suggestModelName({ script: null, experiment_name: "Default" }), "model");
  assert.equal(suggestModelName(undefined), "model");
});

test("a version shows its aliases, else a status that is not READY", () => {
  assert.equal(describeVersion({ aliases: ["champion", "prod"], status: "READY" }), "@champion @prod");
  assert.equal(describeVersion({ aliases: [], status: "READY" }), "");
  assert.equal(describeVersion({ aliases: [], status: "PENDING_REGISTRATION" }), "pending_registration");
});

test("model choices are read defensively from an error's data", () => {
  assert.deepEqual(modelChoices({ kind: "SEVERAL_MODELS_IN_RUN", models: ["model", "scaler", 3] }), ["model", "scaler"]);
  assert.deepEqual(modelChoices({ kind: "X" }), []);
  assert.deepEqual(modelChoices(undefined), []);
  assert.deepEqual(modelChoices("nope"), []);
});
