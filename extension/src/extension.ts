// Activation: wiring only. Each feature lives in its own folder; this file connects them.
import * as vscode from "vscode";
import { onInterpreterChanged } from "./common/interpreter";
import { createLog, showLog } from "./common/log";
import { ServerManager } from "./common/serverManager";
import { affectsServer } from "./common/settings";
import { ServerStatusBar } from "./common/statusBar";
import { Commands, Views } from "./protocol";
import { RunsTreeProvider } from "./runs/runsTree";
import { openTrainingScript, runScript, showScriptInfo } from "./scripts/scriptCommands";
import { setupEnvironment } from "./setup/setupEnvironment";

let servers: ServerManager | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  const log = createLog();
  const status = new ServerStatusBar();
  servers = new ServerManager(context, status, log);
  const runs = new RunsTreeProvider();
  const manager = servers;

  context.subscriptions.push(
    log,
    status,
    runs,
    vscode.window.registerTreeDataProvider(Views.RUNS, runs),
    vscode.commands.registerCommand(Commands.RESTART_SERVER, () => manager.restart("ML Workbench: Restart Server")),
    vscode.commands.registerCommand(Commands.SHOW_LOG, showLog),
    vscode.commands.registerCommand(Commands.SETUP_ENVIRONMENT, () => setupEnvironment(context, manager)),
    vscode.commands.registerCommand(Commands.RUN_SCRIPT, runScript),
    vscode.commands.registerCommand(Commands.SHOW_SCRIPT_INFO, (uri: unknown) => showScriptInfo(manager, uri)),
    vscode.commands.registerCommand(Commands.OPEN_TRAINING_SCRIPT, openTrainingScript),
    vscode.commands.registerCommand(Commands.REFRESH_RUNS, () => runs.refresh()),
    vscode.workspace.onDidChangeConfiguration((event) => {
      if (affectsServer(event)) {
        void manager.restart("settings changed");
      }
    }),
    vscode.workspace.onDidGrantWorkspaceTrust(() => void manager.restart("workspace trusted")),
  );
  const interpreterWatch = await onInterpreterChanged(() => void manager.restart("interpreter changed"));
  if (interpreterWatch) {
    context.subscriptions.push(interpreterWatch);
  }
  void manager.start();
}

export async function deactivate(): Promise<void> {
  await servers?.dispose();
  servers = undefined;
}
