// The tracking server's bearer token lives in VS Code's SecretStorage (the OS keychain), never
// in settings or logs. A trusted workspace's server gets it with the URI of the server it belongs
// to (the user-level `mlWorkbench.trackingUri`, else MLFLOW_TRACKING_URI) and sends it to that
// origin only; changing it (here or in another window) restarts the server to apply it.
import * as vscode from "vscode";
import type { ServerManager } from "./serverManager";
import { serverTokenEnv, tokenScope } from "./tokenScope";
import { Commands } from "../protocol";

/** The SecretStorage key; serverManager reads it when it spawns the server. */
export const TRACKING_TOKEN_SECRET = "trackingServerToken"; // SecretStorage is per extension already

/**
 * The environment entries the server needs for the stored token. Only the user's own settings
 * name the token's server: a workspace's `.vscode/settings.json` came with the repository.
 */
export async function trackingTokenEnv(secrets: vscode.SecretStorage): Promise<Record<string, string | undefined>> {
  const trusted = vscode.workspace.isTrusted;
  const userUri = vscode.workspace.getConfiguration("mlWorkbench").inspect<string>("trackingUri")?.globalValue;
  const token = trusted ? await secrets.get(TRACKING_TOKEN_SECRET) : undefined;
  return serverTokenEnv(token, trusted, tokenScope(userUri, process.env.MLFLOW_TRACKING_URI));
}

async function setToken(secrets: vscode.SecretStorage): Promise<void> {
  const token = await vscode.window.showInputBox({
    title: "MLflow tracking server token",
    prompt:
      "Sent as a bearer token only to the tracking server in your user settings (mlWorkbench.trackingUri); stored in the OS keychain",
    password: true,
    ignoreFocusOut: true,
    validateInput: (value) => (value.trim() ? undefined : "Enter the token, or press Escape to cancel."),
  });
  if (token === undefined) {
    return;
  }
  await secrets.store(TRACKING_TOKEN_SECRET, token.trim());
  void vscode.window.showInformationMessage("ML Workbench: tracking server token saved; restarting the server to use it.");
}

async function clearToken(secrets: vscode.SecretStorage): Promise<void> {
  if ((await secrets.get(TRACKING_TOKEN_SECRET)) === undefined) {
    void vscode.window.showInformationMessage("ML Workbench: no tracking server token is stored.");
    return;
  }
  await secrets.delete(TRACKING_TOKEN_SECRET);
  void vscode.window.showInformationMessage("ML Workbench: tracking server token cleared; restarting the server.");
}

export function registerTrackingToken(context: vscode.ExtensionContext, manager: ServerManager): vscode.Disposable[] {
  const { secrets } = context;
  return [
    vscode.commands.registerCommand(Commands.SET_TRACKING_TOKEN, () => setToken(secrets)),
    vscode.commands.registerCommand(Commands.CLEAR_TRACKING_TOKEN, () => clearToken(secrets)),
    // Fires for this window's changes and for other windows': each restarts its own server.
    secrets.onDidChange((event) => {
      if (event.key === TRACKING_TOKEN_SECRET) {
        void manager.restart("tracking server token changed");
      }
    }),
  ];
}
