import { strict as assert } from "node:assert";
import { test } from "node:test";
import { ScriptParameter } from "../src/protocol";
import { buildArgs, defaultValue, describeArgs } from "../src/launch/runParameters";

function param(overrides: Partial<ScriptParameter>): ScriptParameter {
  return {
    name: "x",
    flags: ["--x"],
    type: "int",
    default: null,
    help: null,
    required: false,
    choices: null,
    source: "argparse",
    line: 0,
    ...overrides,
  };
}

test("defaults are shown without Python quoting and None as empty", () => {
  assert.equal(defaultValue(param({ default: "'adam'" })), "adam");
  assert.equal(defaultValue(param({ default: '"sgd"' })), "sgd");
  assert.equal(defaultValue(param({ default: "None" })), "");
  assert.equal(defaultValue(param({ default: "0.1" })), "0.1");
});

test("only changed values become arguments, with the long flag", () => {
  const params = [
    param({ name: "epochs", flags: ["-e", "--epochs"], default: "10" }),
    param({ name: "lr", flags: ["--lr"], type: "float", default: "0.1" }),
  ];
  assert.deepEqual(buildArgs(params, { epochs: "10", lr: "0.1" }), []);
  assert.deepEqual(buildArgs(params, { epochs: "3", lr: "0.1" }), ["--epochs", "3"]);
});

test("boolean flags carry no value and positionals come first", () => {
  const params = [
    param({ name: "verbose", flags: ["--verbose"], type: "bool", default: "False" }),
    param({ name: "data", flags: [], type: "str", required: true }),
  ];
  assert.deepEqual(buildArgs(params, { verbose: "True", data: "train.csv" }), ["train.csv", "--verbose"]);
  assert.deepEqual(buildArgs(params, { verbose: "False", data: "x.csv" }), ["x.csv"]);
});

test("values with spaces stay one argument (no shell splitting anywhere)", () => {
  const params = [param({ name: "name", flags: ["--name"], type: "str" })];
  assert.deepEqual(buildArgs(params, { name: "my run; rm -rf /" }), ["--name", "my run; rm -rf /"]);
});

test("describeArgs says when nothing is overridden", () => {
  assert.equal(describeArgs([]), "(defaults)");
  assert.equal(describeArgs(["--a", "1"]), "--a 1");
});
