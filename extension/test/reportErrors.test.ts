import { strict as assert } from "node:assert";
import { test } from "node:test";
import { ErrorCodes } from "../src/protocol";
import { isCancellation, reportFailure, withColumn } from "../src/reports/reportErrors";

/** What vscode-languageclient rejects with: a ResponseError's code, message and data. */
function serverError(code: number, message: string, data?: unknown): Error & { code: number; data?: unknown } {
  return Object.assign(new Error(message), { code, data });
}

test("a misspelled column offers the column the server suggests", () => {
  const error = serverError(ErrorCodes.COLUMN_NOT_FOUND, "no column 'sx' (the sensitive feature) in the data set; did you mean 'sex'?", {
    column: "sx",
    role: "sensitive feature",
    suggestion: "sex",
    kind: "COLUMN_NOT_FOUND",
  });
  const failure = reportFailure(error);
  assert.equal(failure.message, "no column 'sx' (the sensitive feature) in the data set; did you mean 'sex'?");
  assert.deepEqual(failure.fixes, [{ kind: "useColumn", label: "Use 'sex'", column: "sx", suggestion: "sex" }]);
});

test("without a suggestion there is nothing to offer but the message", () => {
  const error = serverError(ErrorCodes.COLUMN_NOT_FOUND, "no column 'zz'", { column: "zz", role: "target", suggestion: null });
  assert.deepEqual(reportFailure(error).fixes, []);
});

test("the fix follows the error's code, never its text", () => {
  assert.equal(reportFailure(serverError(ErrorCodes.MISSING_PACKAGE, "fairlearn is not installed")).fixes[0]?.kind, "setupEnvironment");
  assert.equal(reportFailure(serverError(ErrorCodes.UNTRUSTED_WORKSPACE, "trust")).fixes[0]?.kind, "manageTrust");
  assert.equal(reportFailure(serverError(ErrorCodes.MODEL_LOAD_FAILED, "cannot load model")).fixes[0]?.kind, "showLog");
  assert.deepEqual(reportFailure(serverError(ErrorCodes.PRIVACY_BUDGET_EXCEEDED, "budget exceeded")).fixes, []);
  const bounds = serverError(ErrorCodes.INVALID_REPORT_INPUT, "too few rows to estimate the range of 'income'", { field: "bounds" });
  assert.deepEqual(reportFailure(bounds).fixes, [{ kind: "declareBounds", label: "Declare Ranges\u2026" }]);
  assert.deepEqual(reportFailure(serverError(ErrorCodes.INVALID_REPORT_INPUT, "no rows", { field: "data" })).fixes, []);
  assert.deepEqual(reportFailure(new Error("did you mean 'sex'?")).fixes, [], "text alone never offers a fix");
  assert.equal(reportFailure("boom").message, "boom");
});

test("the suggested column replaces the misspelled one wherever it was named", () => {
  const params = { kind: "fairness" as const, target: "aproved", sensitive: ["sex", "aproved"] };
  assert.deepEqual(withColumn(params, "aproved", "approved"), { kind: "fairness", target: "approved", sensitive: ["sex", "approved"] });
  assert.deepEqual(withColumn({ target: "y" }, "sx", "sex"), { target: "y", sensitive: undefined });
});

test("a cancelled request is not a failure", () => {
  assert.equal(isCancellation(serverError(-32800, "Request cancelled")), true);
  assert.equal(isCancellation(serverError(ErrorCodes.REPORT_FAILED, "failed")), false);
  assert.equal(isCancellation(undefined), false);
});
