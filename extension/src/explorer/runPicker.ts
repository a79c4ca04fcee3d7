// A quick pick of the workspace's ended runs, newest first, for commands run from the palette
// without a run (Create Report…, Build Container…, Serve Model Locally…). A run still going is
// left out: its model and metrics are not final.
import * as path from "path";
import * as vscode from "vscode";
import { request, type WorkspaceClient } from "../common/requests";
import { Requests, type RunSummary } from "../protocol";

/** Runs offered: the newest ones; a filter narrows them for an older run. */
const PICK_LIMIT = 100;

export interface RunPick {
  title: string;
  /** A runs filter (the Runs view's syntax), e.g. the runs of one script. */
  filter?: string;
  /** Shown instead of the pick when no ended run matches. */
  emptyMessage: string;
}

export async function pickEndedRun(target: WorkspaceClient, pick: RunPick): Promise<RunSummary | undefined> {
  const result = await request(target.client, Requests.QUERY_RUNS, {
    workspaceUri: target.workspaceUri,
    filter: pick.filter || undefined,
    orderBy: "attributes.start_time DESC",
    limit: PICK_LIMIT,
  });
  const runs = result.page.runs.filter((run) => !result.running.includes(run.run_id));
  if (runs.length === 0) {
    void vscode.window.showInformationMessage(`ML Workbench: ${pick.emptyMessage}`);
    return undefined;
  }
  const picked = await vscode.window.showQuickPick(
    runs.map((run) => ({
      label: run.run_name,
      description: `${run.status.toLowerCase()} \u00b7 ${run.experiment_name} \u00b7 ${run.run_id.slice(0, 8)}`,
      detail: run.script ? path.basename(run.script) : undefined,
      run,
    })),
    { title: pick.title, matchOnDescription: true, matchOnDetail: true, ignoreFocusOut: true },
  );
  return picked?.run;
}
