import { strict as assert } from "node:assert";
import { test } from "node:test";
import {
  defaultImageTag,
  defaultResourceName,
  disparityProblem,
  imageReferenceProblem,
  replicasProblem,
  resourceNameProblem,
  slugOf,
} from "../src/deploy/deployNames";

test("the default tag is mlworkbench-<run name slug>:<first 8 of the run id>", () => {
  assert.equal(defaultImageTag("Iris Classifier #2", "0123456789abcdef"), "mlworkbench-iris-classifier-2:01234567");
  assert.equal(defaultImageTag("bold-cat-42", "a1b2c3d4e5"), "mlworkbench-bold-cat-42:a1b2c3d4");
  assert.equal(defaultImageTag("Café_Model", "ffffffff00"), "mlworkbench-cafe-model:ffffffff");
  assert.equal(defaultImageTag("***", "abc"), "mlworkbench-model:abc", "nothing left of the name: 'model'");
});

test("every default tag passes the client-side check", () => {
  for (const name of ["Iris Classifier #2", "__x__", "A".repeat(300), "élan vital", "---", "run.1.final"]) {
    const tag = defaultImageTag(name, "0123456789abcdef");
    assert.equal(imageReferenceProblem(tag), undefined, tag);
  }
});

test("slugs are lower case with single dashes, trimmed to the limit", () => {
  assert.equal(slugOf("  Hello,  World!  "), "hello-world");
  assert.equal(slugOf("a".repeat(50) + "-b", 40), "a".repeat(40));
  assert.equal(slugOf("ab-cd", 3), "ab", "no dash left at the end");
});

test("Docker's reference grammar accepts the usual names", () => {
  for (const ok of [
    "iris",
    "iris:v1",
    "mlworkbench-iris:01234567",
    "my_org/iris-model:2024.06.01",
    "registry.example.com:5000/team/iris:Latest_1",
    "localhost/iris:1",
    "a__b/c.d-e:TAG",
  ]) {
    assert.equal(imageReferenceProblem(ok), undefined, ok);
  }
});

test("a bad tag is explained", () => {
  assert.match(imageReferenceProblem("") ?? "", /Enter an image name/);
  assert.match(imageReferenceProblem("iris model:1") ?? "", /spaces/);
  assert.match(imageReferenceProblem("Iris:1") ?? "", /lower case/);
  assert.match(imageReferenceProblem("team/Iris") ?? "", /lower case/);
  assert.match(imageReferenceProblem("iris:") ?? "", /Add a tag/);
  assert.match(imageReferenceProblem("iris:-dev") ?? "", /cannot start with '\.' or '-'/);
  assert.match(imageReferenceProblem("iris:a+b") ?? "", /letters, digits/);
  assert.match(imageReferenceProblem(`iris:${"a".repeat(129)}`) ?? "", /longer than 128/);
  assert.match(imageReferenceProblem("iris-:1") ?? "", /only between them/);
  assert.match(imageReferenceProblem("team//iris") ?? "", /empty part/);
  assert.equal(imageReferenceProblem("Registry.Example.com/iris:1"), undefined, "a registry host may have capitals");
  assert.match(imageReferenceProblem(`${"a".repeat(256)}:1`) ?? "", /longer than 255/);
});

test("a digest is refused for a build and accepted for an image to run", () => {
  const pinned = `iris@sha256:${"a".repeat(64)}`;
  assert.match(imageReferenceProblem(pinned) ?? "", /not a digest/);
  assert.equal(imageReferenceProblem(pinned, true), undefined);
  assert.match(imageReferenceProblem("iris@sha256:zz", true) ?? "", /64 lower-case hex/);
});

test("the Kubernetes name is the image's repository as a DNS-1035 label", () => {
  assert.equal(defaultResourceName("mlworkbench-iris-classifier:01234567"), "iris-classifier");
  assert.equal(defaultResourceName("registry.example.com:5000/team/Fraud_Model:v2"), "fraud-model");
  assert.equal(defaultResourceName("42-model:1"), "model-42-model");
  assert.equal(defaultResourceName(`iris@sha256:${"a".repeat(64)}`), "iris");
  assert.equal(resourceNameProblem(defaultResourceName(`x/${"9".repeat(80)}:1`)), undefined);
  assert.equal(resourceNameProblem(defaultResourceName("mlworkbench-:1")), undefined);
});

test("DNS-1035 names are checked with a reason", () => {
  assert.equal(resourceNameProblem("iris-model"), undefined);
  assert.equal(resourceNameProblem("a"), undefined);
  assert.match(resourceNameProblem("") ?? "", /Enter a name/);
  assert.match(resourceNameProblem("Iris") ?? "", /lower case/);
  assert.match(resourceNameProblem("1iris") ?? "", /Start with a letter/);
  assert.match(resourceNameProblem("iris-") ?? "", /End with a letter or digit/);
  assert.match(resourceNameProblem("iris.model") ?? "", /only a-z, 0-9 and '-'/);
  assert.match(resourceNameProblem("iris_model") ?? "", /only a-z, 0-9 and '-'/);
  assert.match(resourceNameProblem("a".repeat(64)) ?? "", /at most 63/);
});

test("replicas and disparity limits are checked", () => {
  assert.equal(replicasProblem("2"), undefined);
  assert.equal(replicasProblem(" 10 "), undefined);
  for (const bad of ["0", "-1", "1.5", "", "two", "1000"]) {
    assert.notEqual(replicasProblem(bad), undefined, bad);
  }
  assert.equal(disparityProblem("0.1"), undefined);
  assert.equal(disparityProblem("0"), undefined);
  assert.equal(disparityProblem("1"), undefined);
  for (const bad of ["", "-0.1", "1.5", "abc", "NaN"]) {
    assert.notEqual(disparityProblem(bad), undefined, bad);
  }
});
