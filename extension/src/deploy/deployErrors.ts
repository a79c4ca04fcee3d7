// What the extension offers when a deploy request fails: the server's message (a typed LSP error
// with a code and data, never matched on its text) and the fix its code calls for — Docker's
// install or post-install page, the build log, workspace trust. Pure, so the decisions are
// unit-tested; the commands show them.
import { ErrorCodes } from "../protocol";
import { DOCKER_DOCS } from "./deploymentItems";

export type DeployFix =
  /** Open one of Docker's pages in the browser. */
  | { kind: "openDocs"; label: string; url: string }
  /** Open the log file the server kept (`data.logPath`), else the "ML Workbench: Deploy" channel. */
  | { kind: "showLog"; label: string; logPath?: string }
  | { kind: "setupEnvironment"; label: string }
  | { kind: "manageTrust"; label: string };

export interface DeployFailure {
  message: string;
  fixes: DeployFix[];
  /** The view's listing is stale (the container or image is gone): refresh it. */
  refresh: boolean;
}

interface ServerError {
  code?: unknown;
  message?: unknown;
  data?: unknown;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function errorCode(error: unknown): unknown {
  return isRecord(error) ? error.code : undefined;
}

/** The message to show and the fixes to offer for a failed deploy request. */
export function deployFailure(error: unknown): DeployFailure {
  const { code, message, data } = (isRecord(error) ? error : {}) as ServerError;
  const text = typeof message === "string" && message.trim() !== "" ? message.trim() : String(error);
  const logPath = isRecord(data) && typeof data.logPath === "string" && data.logPath !== "" ? data.logPath : undefined;
  const showLog: DeployFix = logPath ? { kind: "showLog", label: "Show Log", logPath } : { kind: "showLog", label: "Show Log" };
  const only = (...fixes: DeployFix[]): DeployFailure => ({ message: text, fixes, refresh: false });
  switch (code) {
    case ErrorCodes.DOCKER_UNAVAILABLE:
      return { message: text, fixes: [{ kind: "openDocs", label: "How to Fix", url: DOCKER_DOCS.install }], refresh: true };
    case ErrorCodes.DOCKER_PERMISSION_DENIED:
      return { message: text, fixes: [{ kind: "openDocs", label: "How to Fix", url: DOCKER_DOCS.postInstall }], refresh: true };
    case ErrorCodes.IMAGE_BUILD_FAILED:
    case ErrorCodes.CONTAINER_SMOKE_FAILED:
    case ErrorCodes.WHEELHOUSE_FAILED:
      return only(showLog);
    case ErrorCodes.CONTAINER_START_FAILED:
      return { message: text, fixes: [showLog], refresh: true };
    case ErrorCodes.CONTAINER_NOT_FOUND:
      return { message: text, fixes: [], refresh: true };
    case ErrorCodes.MISSING_PACKAGE:
      return only({ kind: "setupEnvironment", label: "Set up Environment" });
    case ErrorCodes.UNTRUSTED_WORKSPACE:
      return only({ kind: "manageTrust", label: "Manage Workspace Trust" });
    default:
      return only();
  }
}

/** Whether a write was refused because its file is already there (asked again with force). */
export function isOutputExists(error: unknown): boolean {
  return errorCode(error) === ErrorCodes.OUTPUT_EXISTS;
}

/** The existing file an OUTPUT_EXISTS error names (its `data.path`), for the question. */
export function existingPath(error: unknown): string | undefined {
  const data = isRecord(error) && isRecord(error.data) ? error.data : undefined;
  return typeof data?.path === "string" ? data.path : undefined;
}
