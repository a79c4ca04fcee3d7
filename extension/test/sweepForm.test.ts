import { strict as assert } from "node:assert";
import { test } from "node:test";
import type { ScriptParameter } from "../src/protocol";
import {
  defaultMaxConcurrent,
  describeParameter,
  gridSize,
  guessMode,
  initialValues,
  metricNames,
  parseMaxConcurrent,
  parseValues,
  sweepRequest,
} from "../src/compute/sweepForm";

function parameter(overrides: Partial<ScriptParameter>): ScriptParameter {
  return { name: "lr", flags: ["--lr"], type: "float", default: "0.1", help: null, required: false, choices: null, source: "argparse", line: 3, ...overrides };
}

test("a parameter shows its type and default, or that it is required, or its choices", () => {
  assert.equal(describeParameter(parameter({})), "float = 0.1");
  assert.equal(describeParameter(parameter({ type: "int", default: null, required: true })), "int, required");
  assert.equal(describeParameter(parameter({ type: "choice", default: "'adam'", choices: ["adam", "sgd"] })), "one of adam, sgd = 'adam'");
  assert.equal(describeParameter(parameter({ type: null, default: null })), "any");
});

test("the values box starts from a plain default, never from an expression", () => {
  assert.equal(initialValues(parameter({})), "0.1");
  assert.equal(initialValues(parameter({ default: "'adam'" })), "adam");
  assert.equal(initialValues(parameter({ default: "os.cpu_count()" })), "");
  assert.equal(initialValues(parameter({ default: "None" })), "");
  assert.equal(initialValues(parameter({ default: null })), "");
});

test("values are split on commas and trimmed", () => {
  assert.deepEqual(parseValues(" 0.001, 0.01 ,0.1", parameter({})), { ok: true, value: ["0.001", "0.01", "0.1"] });
  assert.deepEqual(parseValues("1e-3,inf", parameter({})), { ok: true, value: ["1e-3", "inf"] });
  assert.deepEqual(parseValues("-1,+2", parameter({ type: "int" })), { ok: true, value: ["-1", "+2"] });
});

test("empty input and empty values between commas are refused", () => {
  assert.equal(parseValues("", parameter({})).ok, false);
  assert.equal(parseValues("   ", parameter({})).ok, false);
  const parsed = parseValues("0.1,,0.2", parameter({}));
  assert.ok(!parsed.ok && parsed.error.includes("extra comma"));
});

test("duplicates are refused, including two spellings of one number or switch", () => {
  const twice = parseValues("0.1,0.1", parameter({}));
  assert.ok(!twice.ok && twice.error === "0.1 is listed twice.");
  const spelled = parseValues("0.1,0.10", parameter({}));
  assert.ok(!spelled.ok && spelled.error === "0.1 and 0.10 are the same value.");
  assert.equal(parseValues("true,yes", parameter({ type: "bool", default: "False" })).ok, false);
  assert.equal(parseValues("adam,Adam", parameter({ type: "str" })).ok, true); // text is case-sensitive
});

test("numbers are required where the script declares int or float", () => {
  const notInt = parseValues("1,2.5", parameter({ type: "int" }));
  assert.ok(!notInt.ok && notInt.error === "lr takes whole numbers, not '2.5'.");
  const notFloat = parseValues("0.1,fast", parameter({}));
  assert.ok(!notFloat.ok && notFloat.error === "lr takes numbers, not 'fast'.");
  assert.equal(parseValues("true,maybe", parameter({ type: "bool" })).ok, false);
  assert.equal(parseValues("fast,slow", parameter({ type: null })).ok, true);
});

test("choices limit the values", () => {
  const choice = parameter({ type: "choice", choices: ["adam", "sgd"] });
  assert.equal(parseValues("adam,sgd", choice).ok, true);
  const wrong = parseValues("adam,rmsprop", choice);
  assert.ok(!wrong.ok && wrong.error.includes("one of adam, sgd"));
});

test("line breaks never reach the request", () => {
  assert.equal(parseValues("a\nb", parameter({ type: "str" })).ok, false);
});

test("trials at once: a whole number from 1 to the CPUs, 2 by default", () => {
  assert.deepEqual(parseMaxConcurrent("2", 8), { ok: true, value: 2 });
  assert.equal(parseMaxConcurrent("0", 8).ok, false);
  assert.equal(parseMaxConcurrent("9", 8).ok, false);
  assert.equal(parseMaxConcurrent("1.5", 8).ok, false);
  assert.equal(parseMaxConcurrent("", 8).ok, false);
  assert.equal(defaultMaxConcurrent(8), 2);
  assert.equal(defaultMaxConcurrent(1), 1);
});

test("the mode guess: min for losses and errors, max for the rest", () => {
  assert.equal(guessMode("val_loss"), "min");
  assert.equal(guessMode("rmse"), "min");
  assert.equal(guessMode("accuracy"), "max");
  assert.equal(guessMode("f1"), "max");
});

test("metric names come from the script's runs, once each, sorted", () => {
  assert.deepEqual(metricNames([{ metrics: { loss: 1, accuracy: 0.5 } }, { metrics: { accuracy: 0.7, f1: 0.2 } }, { metrics: {} }]), ["accuracy", "f1", "loss"]);
});

test("the request carries the values as typed and the metric only with its mode", () => {
  const swept = [
    { name: "lr", values: ["0.1", "$(id)"] },
    { name: "hidden", values: ["8", "16", "32"] },
  ];
  assert.equal(gridSize(swept), 6);
  assert.deepEqual(sweepRequest({ swept, maxConcurrent: 2 }), {
    params: [
      { name: "lr", values: ["0.1", "$(id)"] },
      { name: "hidden", values: ["8", "16", "32"] },
    ],
    maxConcurrent: 2,
  });
  assert.deepEqual(sweepRequest({ swept, maxConcurrent: 1, metric: "loss", mode: "min" }), {
    params: swept,
    maxConcurrent: 1,
    metric: "loss",
    mode: "min",
  });
  assert.equal(sweepRequest({ swept, maxConcurrent: 1, metric: "acc" }).mode, "max");
});

test("a sweep on a Ray cluster names its address; a local one sends none", () => {
  const local = sweepRequest({ swept: [{ name: "lr", values: ["0.1"] }], maxConcurrent: 2 });
  assert.equal("targetAddress" in local, false);
  const ray = sweepRequest({ swept: [{ name: "lr", values: ["0.1"] }], maxConcurrent: 2, targetAddress: "http://127.0.0.1:8265" });
  assert.equal(ray.targetAddress, "http://127.0.0.1:8265");
});
