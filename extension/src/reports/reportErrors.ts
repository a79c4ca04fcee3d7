// What the extension offers when a report fails: the server's message (a typed LSP error with a
// code and data, never matched on its text) and the fix that goes with its code — use the
// column the server suggests for a misspelled one, install what is missing, trust the
// workspace. Pure, so the decisions are unit-tested; reportCommands.ts shows them.
import { ErrorCodes, type CreateReportParams } from "../protocol";

export type ReportFix =
  /** Make the same report again with `suggestion` in place of `column`. */
  | { kind: "useColumn"; label: string; column: string; suggestion: string }
  /** Ask for the public ranges of numeric columns (a privacy verb could not estimate one). */
  | { kind: "declareBounds"; label: string }
  | { kind: "setupEnvironment"; label: string }
  | { kind: "manageTrust"; label: string }
  | { kind: "showLog"; label: string };

export interface ReportFailure {
  message: string;
  fixes: ReportFix[];
}

interface ServerError {
  code?: unknown;
  message?: unknown;
  data?: unknown;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The message to show and the fixes to offer for a failed createReport. */
export function reportFailure(error: unknown): ReportFailure {
  const { code, message, data } = (isRecord(error) ? error : {}) as ServerError;
  const text = typeof message === "string" && message.trim() !== "" ? message.trim() : String(error);
  const details = isRecord(data) ? data : {};
  switch (code) {
    case ErrorCodes.COLUMN_NOT_FOUND: {
      const { column, suggestion } = details;
      if (typeof column === "string" && typeof suggestion === "string" && suggestion !== "") {
        return { message: text, fixes: [{ kind: "useColumn", label: `Use '${suggestion}'`, column, suggestion }] };
      }
      return { message: text, fixes: [] };
    }
    case ErrorCodes.INVALID_REPORT_INPUT:
      return details.field === "bounds"
        ? { message: text, fixes: [{ kind: "declareBounds", label: "Declare Ranges\u2026" }] }
        : { message: text, fixes: [] };
    case ErrorCodes.MISSING_PACKAGE:
      return { message: text, fixes: [{ kind: "setupEnvironment", label: "Set up Environment" }] };
    case ErrorCodes.UNTRUSTED_WORKSPACE:
      return { message: text, fixes: [{ kind: "manageTrust", label: "Manage Workspace Trust" }] };
    case ErrorCodes.REPORT_FAILED:
    case ErrorCodes.MODEL_LOAD_FAILED:
      return { message: text, fixes: [{ kind: "showLog", label: "Show Log" }] };
    default:
      return { message: text, fixes: [] };
  }
}

/** The same request with `column` renamed to `suggestion` wherever it was named. */
export function withColumn<P extends Pick<CreateReportParams, "target" | "sensitive">>(params: P, column: string, suggestion: string): P {
  return {
    ...params,
    target: params.target === column ? suggestion : params.target,
    sensitive: params.sensitive?.map((name) => (name === column ? suggestion : name)),
  };
}

/** Whether an error is the answer to a cancel (the user asked for it: nothing to show). */
export function isCancellation(error: unknown): boolean {
  // vscode-jsonrpc's RequestCancelled / the LSP's RequestCancelled codes.
  return isRecord(error) && (error.code === -32800 || error.code === -32799);
}
