import { strict as assert } from "node:assert";
import { test } from "node:test";
import { ErrorCodes, type StartSweepResult, type SweepTrial } from "../src/protocol";
import { failureOutput, isSweepCancellation, sweepFailure, sweepSummary, trialLines } from "../src/compute/sweepSummary";

function trial(index: number, overrides: Partial<SweepTrial> = {}): SweepTrial {
  return { index, values: { lr: index / 10, hidden: 16 }, status: "FINISHED", runId: `run${index}`, metric: 0.5 + index / 10, error: null, ...overrides };
}

function result(overrides: Partial<StartSweepResult> = {}): StartSweepResult {
  const trials = [trial(1), trial(2), trial(3)];
  return { parentRunId: "parent", experimentId: "0", status: "FINISHED", metric: "accuracy", mode: "max", trials, best: trials[2] ?? null, ...overrides };
}

function serverError(code: number, message: string, data?: unknown): Error & { code: number; data?: unknown } {
  return Object.assign(new Error(message), { code, data });
}

test("a finished sweep names its best trial and offers every trial's run to compare", () => {
  const summary = sweepSummary(result());
  assert.equal(summary.message, "Sweep finished: 3 finished of 3 trials. Best: trial 3 lr=0.3 hidden=16 (accuracy=0.8).");
  assert.deepEqual(summary.trialRunIds, ["run1", "run2", "run3"]);
  assert.equal(summary.severity, "info");
});

test("failed and unrun trials are counted, and runs that never existed are not compared", () => {
  const trials = [trial(1), trial(2, { status: "FAILED", metric: null, error: "Traceback\nValueError: bad lr\n" }), trial(3, { status: "NOT_RUN", runId: null, metric: null })];
  const summary = sweepSummary(result({ trials, best: trials[0] ?? null }));
  assert.equal(summary.message, "Sweep finished: 1 finished, 1 failed, 1 not run of 3 trials. Best: trial 1 lr=0.1 hidden=16 (accuracy=0.6).");
  assert.deepEqual(summary.trialRunIds, ["run1", "run2"]);
  assert.equal(summary.severity, "warning");
});

test("without a metric there is no best; with one nobody logged, it says so", () => {
  assert.equal(sweepSummary(result({ metric: null, best: null })).message, "Sweep finished: 3 finished of 3 trials.");
  assert.equal(sweepSummary(result({ best: null })).message, "Sweep finished: 3 finished of 3 trials. No finished trial logged accuracy.");
});

test("a sweep whose every trial failed shows the first failure's last line", () => {
  const trials = [trial(1, { status: "FAILED", metric: null, error: "Traceback\nSystemExit: lr must be positive\n" }), trial(2, { status: "FAILED", metric: null })];
  const summary = sweepSummary(result({ status: "FAILED", trials, best: null }));
  assert.equal(summary.message, "Sweep failed: every one of 2 trials failed. Trial 1: SystemExit: lr must be positive");
  assert.equal(summary.severity, "warning");
});

test("the output channel gets one line per trial", () => {
  const trials = [trial(1), trial(2, { status: "KILLED", metric: null, error: "stopped" })];
  assert.deepEqual(trialLines(result({ trials })), [
    "trial 1 lr=0.1 hidden=16: FINISHED accuracy=0.6 (run run1)",
    "trial 2 lr=0.2 hidden=16: KILLED (run run2) — stopped",
  ]);
});

test("the user's own cancel is not a failure to show", () => {
  assert.equal(isSweepCancellation(serverError(ErrorCodes.SWEEP_FAILED, "the sweep did not finish: it was cancelled", { cancelled: true })), true);
  assert.equal(isSweepCancellation(serverError(-32800, "cancelled")), true);
  assert.equal(isSweepCancellation(serverError(ErrorCodes.SWEEP_FAILED, "crashed", { cancelled: false })), false);
  assert.equal(isSweepCancellation(new Error("x")), false);
});

test("the fix follows the error's code, never its text", () => {
  assert.deepEqual(sweepFailure(serverError(ErrorCodes.UNTRUSTED_WORKSPACE, "trust")).fixes, [{ kind: "manageTrust", label: "Manage Workspace Trust" }]);
  assert.equal(sweepFailure(serverError(ErrorCodes.MISSING_PACKAGE, "mlflow missing")).fixes[0]?.kind, "setupEnvironment");
  const crashed = serverError(ErrorCodes.SWEEP_FAILED, "the sweep did not finish: its process was killed by signal 9\nlast line", { output: "last line", cancelled: false });
  assert.deepEqual(sweepFailure(crashed), { message: "the sweep did not finish: its process was killed by signal 9", fixes: [{ kind: "showOutput", label: "Show Output" }] });
  assert.equal(failureOutput(crashed), "last line");
  const typo = sweepFailure(serverError(ErrorCodes.UNKNOWN_SWEEP_PARAMETER, "the script has no parameter 'l'; did you mean 'lr'?", { closest: "lr" }));
  assert.deepEqual(typo, { message: "the script has no parameter 'l'; did you mean 'lr'?", fixes: [] });
});
