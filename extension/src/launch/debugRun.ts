// "Debug": the same tracked launch as Run, under the Python debugger. The server prepares the
// run (the bootstrap becomes the debugger's program), so breakpoints in the script work and
// the run still lands in MLflow with its params, metrics and end status.
import * as path from "path";
import * as vscode from "vscode";
import { request } from "../common/requests";
import { ServerManager } from "../common/serverManager";
import { DebugLaunch, Requests } from "../protocol";
import { ensureTrusted } from "../scripts/trust";

const DEBUGPY_EXTENSION = "ms-python.debugpy";

/** Debugs `uri` with `args`, which must be ones the user typed or has seen (runActions.ts asks for a run's). */
export async function debugScript(servers: ServerManager, uri: vscode.Uri | undefined, args: string[] = []): Promise<void> {
  if (!uri || uri.scheme !== "file") {
    void vscode.window.showErrorMessage("ML Workbench: open a Python training script (a file on disk) to debug it.");
    return;
  }
  if (!(await ensureTrusted("debug this script"))) {
    return;
  }
  if (!vscode.extensions.getExtension(DEBUGPY_EXTENSION)) {
    const choice = await vscode.window.showWarningMessage(
      "ML Workbench: debugging needs the Python Debugger extension (ms-python.debugpy). Run still works without it.",
      "Show Extension",
    );
    if (choice) {
      await vscode.commands.executeCommand("workbench.extensions.search", DEBUGPY_EXTENSION);
    }
    return;
  }
  const client = servers.languageClient;
  const folder = vscode.workspace.getWorkspaceFolder(uri);
  if (!client || !folder) {
    void vscode.window.showErrorMessage("ML Workbench: the server is not running, or the script is outside the workspace.");
    return;
  }
  let launch: DebugLaunch;
  try {
    launch = await request(client, Requests.PREPARE_DEBUG_RUN, {
      uri: uri.toString(),
      workspaceUri: folder.uri.toString(),
      args,
    });
  } catch (error) {
    void vscode.window.showErrorMessage(`ML Workbench: cannot debug: ${error instanceof Error ? error.message : String(error)}`);
    return;
  }
  await vscode.debug.startDebugging(folder, {
    type: "debugpy",
    request: "launch",
    name: `ML Workbench: debug ${path.basename(uri.fsPath)}`,
    python: launch.python,
    program: launch.program,
    args: launch.args,
    env: launch.env,
    cwd: launch.cwd,
    console: "integratedTerminal",
    justMyCode: true,
  });
}
