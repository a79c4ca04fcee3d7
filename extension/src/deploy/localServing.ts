// Serve Locally: `mlworkbench serve --run <id>` in a VS Code terminal, started the way the server
// itself is (the same interpreter, the CLI from the libraries bundled with the extension, the
// server's extra environment and tracking settings), as an argument list, never a shell line.
// The CLI prints the URL and the bearer token once; Ctrl+C or closing the terminal stops it.
import * as path from "path";
import * as vscode from "vscode";
import { resolveInterpreter } from "../common/interpreter";
import type { ServerManager } from "../common/serverManager";
import { readSettings } from "../common/settings";
import { trackingTokenEnv } from "../common/trackingToken";
import { ensureTrusted } from "../scripts/trust";

export interface ServedRun {
  runId: string;
  runName: string;
  /** Which of the run's models (its label) when the user picked one. */
  model?: string;
}

/** The CLI entry point next to the server's launcher (extension/tool/run_cli.py). */
function cliPath(extensionPath: string): string {
  return path.join(extensionPath, "extension", "tool", "run_cli.py");
}

export function serveArguments(extensionPath: string, run: ServedRun, workspace: string): string[] {
  const args = [cliPath(extensionPath), "serve", "--run", run.runId, "--workspace", workspace];
  if (run.model) {
    args.push("--model", run.model);
  }
  return args;
}

export async function serveLocally(context: vscode.ExtensionContext, servers: ServerManager, run: ServedRun): Promise<void> {
  // Serving loads the model, which runs its code: never in Restricted Mode.
  if (!(await ensureTrusted("serve a model (loading it runs its code)"))) {
    return;
  }
  const folder = vscode.workspace.workspaceFolders?.[0];
  if (!folder || folder.uri.scheme !== "file") {
    void vscode.window.showErrorMessage("ML Workbench: open the workspace folder the run belongs to, then serve it.");
    return;
  }
  const python = servers.currentInterpreter?.path ?? (await resolveInterpreter(folder.uri)).path;
  const settings = readSettings(folder.uri);
  const env: Record<string, string | null | undefined> = {
    ...settings.serverExtraEnv,
    ...(await trackingTokenEnv(context.secrets)),
    PYTHONUNBUFFERED: "1",
  };
  if (settings.trackingUri) {
    env.MLFLOW_TRACKING_URI = settings.trackingUri; // what the server gets as initializationOptions
  }
  const terminal = vscode.window.createTerminal({
    name: `Serve ${run.runName}`,
    shellPath: python,
    shellArgs: serveArguments(context.extensionPath, run, folder.uri.fsPath),
    cwd: folder.uri,
    env,
    iconPath: new vscode.ThemeIcon("server-process"),
    isTransient: true,
  });
  terminal.show();
}
