// Shows a failed deploy request the way the rest of the extension shows errors: the server's
// message with the fix its code calls for as a button (deployErrors.ts decides which), acted on
// only when the user clicks it.
import * as vscode from "vscode";
import { traceError } from "../common/log";
import { Commands } from "../protocol";
import { isCancellation } from "../reports/reportErrors";
import { deployFailure } from "./deployErrors";
import type { DeployLog } from "./deployLog";

export interface FailureHooks {
  log: DeployLog;
  /** Redraws the Deployments view (the listing is stale). */
  refresh(): void;
}

export async function showDeployFailure(what: string, error: unknown, hooks: FailureHooks): Promise<void> {
  if (isCancellation(error)) {
    return;
  }
  traceError(`Deploy: ${what} failed`, error);
  const failure = deployFailure(error);
  if (failure.refresh) {
    hooks.refresh();
  }
  const fixes = failure.fixes;
  const picked = await vscode.window.showErrorMessage(`ML Workbench: ${failure.message}`, ...fixes.map((fix) => fix.label));
  const fix = fixes.find((candidate) => candidate.label === picked);
  switch (fix?.kind) {
    case "openDocs":
      await vscode.env.openExternal(vscode.Uri.parse(fix.url));
      return;
    case "showLog":
      if (fix.logPath) {
        await vscode.window.showTextDocument(vscode.Uri.file(fix.logPath), { preview: true });
      } else {
        hooks.log.show();
      }
      return;
    case "setupEnvironment":
      await vscode.commands.executeCommand(Commands.SETUP_ENVIRONMENT);
      return;
    case "manageTrust":
      await vscode.commands.executeCommand("workbench.trust.manage");
      return;
    default:
      return;
  }
}
