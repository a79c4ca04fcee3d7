// Generate GitHub Actions Workflow: the training script (the run's, else one of the workspace's
// .py files) and an optional fairness gate (data, target, sensitive columns, largest disparity);
// then writeWorkflow, asking before overwriting, and the workflow opened.
import * as path from "path";
import * as vscode from "vscode";
import { request, type WorkspaceClient } from "../common/requests";
import { Requests, type WriteWorkflowParams } from "../protocol";
import { askDataFile } from "../reports/reportWizard";
import { sensitiveCandidates, targetCandidates } from "../reports/reportWizardSteps";
import { disparityProblem } from "./deployNames";
import { openWritten, writeAsking } from "./writtenFiles";

const TITLE = "Generate GitHub Actions Workflow";
const SCRIPT_EXCLUDE = "**/{node_modules,.venv,venv,.git,mlruns,__pycache__,.mlworkbench}/**";
const MAX_SCRIPTS = 500;
const DEFAULT_MAX_DISPARITY = "0.1";

type WorkflowInputs = Omit<WriteWorkflowParams, "workspaceUri" | "force">;

/** Asks for the workflow's inputs, writes it and opens it. `runScript`: the run's script, if any. */
export async function generateWorkflow(target: WorkspaceClient, runScript: string | undefined): Promise<boolean> {
  const params = await askWorkflow(target, runScript);
  if (!params) {
    return false;
  }
  const written = await writeAsking("The workflow", (force) =>
    request(target.client, Requests.WRITE_WORKFLOW, { ...params, workspaceUri: target.workspaceUri, force }),
  );
  if (!written) {
    return false;
  }
  await openWritten(written.files[0]);
  void vscode.window.showInformationMessage(
    `ML Workbench: wrote ${written.files.map((file) => vscode.workspace.asRelativePath(file, false)).join(", ")}. Commit it to run it on GitHub.`,
  );
  return true;
}

async function askWorkflow(target: WorkspaceClient, runScript: string | undefined): Promise<WorkflowInputs | undefined> {
  const script = await askScript(runScript);
  if (!script) {
    return undefined;
  }
  const gate = await vscode.window.showQuickPick(
    [
      { label: "No fairness gate", detail: "Train and build the image", value: false },
      { label: "Add a fairness gate\u2026", detail: "Fail the job when the model treats groups too differently on a data set", value: true },
    ],
    { title: `${TITLE}: fairness`, ignoreFocusOut: true },
  );
  if (gate === undefined) {
    return undefined;
  }
  if (!gate.value) {
    return { script };
  }
  const fairness = await askFairnessGate(target);
  return fairness ? { script, ...fairness } : undefined;
}

/** Workspace-relative path of a script, or undefined when it is outside the workspace. */
function relativeToWorkspace(file: string): string | undefined {
  const relative = vscode.workspace.asRelativePath(file, false);
  return path.isAbsolute(relative) || relative.startsWith("..") ? undefined : relative.split(path.sep).join("/");
}

async function askScript(runScript: string | undefined): Promise<string | undefined> {
  const fromRun = runScript ? relativeToWorkspace(runScript) : undefined;
  const found = await vscode.workspace.findFiles("**/*.py", SCRIPT_EXCLUDE, MAX_SCRIPTS);
  const scripts = found
    .map((uri) => relativeToWorkspace(uri.fsPath))
    .filter((file): file is string => file !== undefined && file !== fromRun)
    .sort();
  const ordered = fromRun ? [fromRun, ...scripts] : scripts;
  if (ordered.length === 0) {
    void vscode.window.showErrorMessage("ML Workbench: the workflow trains with a Python script in the workspace, and there is none.");
    return undefined;
  }
  const picked = await vscode.window.showQuickPick(
    ordered.map((file) => ({
      label: path.posix.basename(file),
      description: path.posix.dirname(file) === "." ? "" : path.posix.dirname(file),
      detail: file === fromRun ? "The run's training script" : undefined,
      value: file,
    })),
    { title: `${TITLE}: training script`, placeHolder: "The script the workflow runs to train the model", ignoreFocusOut: true, matchOnDescription: true },
  );
  return picked?.value;
}

async function askFairnessGate(target: WorkspaceClient): Promise<Pick<WorkflowInputs, "data" | "target" | "sensitive" | "maxDisparity"> | undefined> {
  const data = await askDataFile(`${TITLE}: evaluation data`);
  if (!data) {
    return undefined;
  }
  if (path.isAbsolute(data)) {
    void vscode.window.showErrorMessage("ML Workbench: the workflow runs on a checkout of the repository: choose a data file inside the workspace.");
    return undefined;
  }
  const { columns } = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Window, title: `Reading the columns of ${path.basename(data)}` },
    () => request(target.client, Requests.INSPECT_DATA, { workspaceUri: target.workspaceUri, data }),
  );
  const label = await vscode.window.showQuickPick(
    targetCandidates(columns).map((c) => ({ label: c.name, description: c.description })),
    { title: `${TITLE}: target column`, placeHolder: "The column the model predicts", ignoreFocusOut: true, matchOnDescription: true },
  );
  if (!label) {
    return undefined;
  }
  const sensitive = await vscode.window.showQuickPick(
    sensitiveCandidates(columns, label.label).map((c) => ({ label: c.name, description: c.description })),
    {
      title: `${TITLE}: sensitive features`,
      placeHolder: "Columns whose groups the model should treat alike (Space ticks a column)",
      canPickMany: true,
      ignoreFocusOut: true,
      matchOnDescription: true,
    },
  );
  if (!sensitive || sensitive.length === 0) {
    return undefined;
  }
  const maxDisparity = await vscode.window.showInputBox({
    title: `${TITLE}: largest disparity`,
    prompt: "The job fails when the demographic parity difference between groups is above this (0 to 1)",
    value: DEFAULT_MAX_DISPARITY,
    ignoreFocusOut: true,
    validateInput: disparityProblem,
  });
  if (maxDisparity === undefined) {
    return undefined;
  }
  return { data, target: label.label, sensitive: sensitive.map((item) => item.label), maxDisparity: Number(maxDisparity.trim()) };
}
