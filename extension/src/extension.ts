// Activation: wiring only. Each feature lives in its own folder; this file connects them.
import * as vscode from "vscode";
import { onInterpreterChanged } from "./common/interpreter";
import { createLog, showLog } from "./common/log";
import { ServerManager } from "./common/serverManager";
import { affectsServer } from "./common/settings";
import { ServerStatusBar } from "./common/statusBar";
import { Commands, Views } from "./protocol";
import { RunController } from "./launch/runController";
import { debugScript } from "./launch/debugRun";
import { RunEvents } from "./launch/runEvents";
import { RunningStatusBar, showRunning } from "./launch/runningStatusBar";
import { RunActions } from "./explorer/runActions";
import { RunNotesFileSystem } from "./notes/runNotes";
import { RunsTreeProvider } from "./explorer/runsTree";
import { registerRunsViewCommands } from "./explorer/runsViewCommands";
import { registerMonitorCommands } from "./monitor/monitorCommands";
import { registerReportCommands } from "./reports/reportCommands";
import { registerDeployCommands } from "./deploy/deployCommands";
import { registerSweepCommands } from "./compute/sweepCommands";
import { registerComputeCommands } from "./compute/computeCommands";
import { registerModelsView, registerModelFromRun } from "./registry/modelsView";
import { registerTrackingToken } from "./common/trackingToken";
import { openTrainingScript, runScript, runScriptWith, showScriptInfo, targetUri } from "./scripts/scriptCommands";
import { setupEnvironment } from "./setup/setupEnvironment";

let servers: ServerManager | undefined;

export function activate(context: vscode.ExtensionContext): void {
  const log = createLog();
  const status = new ServerStatusBar();
  const manager = new ServerManager(context, status, log);
  servers = manager;
  const events = new RunEvents();
  const runs = new RunController(context.extensionUri, manager, events);
  const tree = new RunsTreeProvider(manager);
  const actions = new RunActions(context, manager, runs, tree);
  const models = registerModelsView(context, manager);
  const storeWatcher = vscode.workspace.createFileSystemWatcher("**/mlflow.db");
  let clientSubscriptions: vscode.Disposable[] = [];

  context.subscriptions.push(
    log,
    status,
    events,
    runs,
    tree,
    storeWatcher,
    new RunningStatusBar(runs),
    (tree.view = vscode.window.createTreeView(Views.RUNS, { treeDataProvider: tree, showCollapseAll: true, canSelectMany: true })),
    manager.onReady((client) => {
      disposeAll(clientSubscriptions);
      clientSubscriptions = events.attach(client);
      tree.refresh();
    }),
    events.onStatus(() => tree.refreshSoon(200)),
    runs.onDidChangeActive(() => tree.refreshSoon(200)),
    storeWatcher.onDidChange(() => tree.refreshSoon()),
    storeWatcher.onDidCreate(() => tree.refreshSoon()),
    { dispose: () => disposeAll(clientSubscriptions) },
    vscode.commands.registerCommand(Commands.RESTART_SERVER, () => manager.restart("ML Workbench: Restart Server")),
    vscode.commands.registerCommand(Commands.SHOW_LOG, showLog),
    vscode.commands.registerCommand(Commands.SETUP_ENVIRONMENT, () => setupEnvironment(context, manager)),
    vscode.commands.registerCommand(Commands.RUN_SCRIPT, (uri: unknown) => runScript(runs, uri)),
    vscode.commands.registerCommand(Commands.RUN_SCRIPT_WITH, (uri: unknown) => runScriptWith(context, manager, runs, uri)),
    vscode.commands.registerCommand(Commands.DEBUG_SCRIPT, (uri: unknown) => debugScript(manager, targetUri(uri))),
    vscode.commands.registerCommand(Commands.CANCEL_RUN, (item: unknown) => cancelFromAnywhere(runs, item)),
    vscode.commands.registerCommand(Commands.SHOW_RUNNING, () => showRunning(runs)),
    vscode.commands.registerCommand(Commands.SHOW_LIVE_METRICS, async (item: unknown) => {
      const runId = (item as { run?: { run_id?: string } } | undefined)?.run?.run_id;
      if (!runId || !runs.showLiveMetrics(runId)) {
        await showRunning(runs);
      }
    }),
    vscode.commands.registerCommand(Commands.SHOW_SCRIPT_INFO, (uri: unknown) => showScriptInfo(manager, uri)),
    vscode.commands.registerCommand(Commands.OPEN_TRAINING_SCRIPT, openTrainingScript),
    vscode.commands.registerCommand(Commands.REFRESH_RUNS, () => tree.refresh()),
    vscode.commands.registerCommand(Commands.REVEAL_SCRIPT_RUNS, async (uri: unknown) => {
      const target = targetUri(uri);
      await vscode.commands.executeCommand(`${Views.RUNS}.focus`);
      await tree.setScriptFilter(target?.fsPath);
    }),
    ...registerRunsViewCommands(context, manager, tree),
    ...actions.register(),
    RunNotesFileSystem.register(actions),
    vscode.commands.registerCommand(Commands.REGISTER_MODEL, async (item: unknown) => {
      const runId = await actions.pickRun(item, "Register the model of which run?");
      if (runId) {
        // From a model's row under the run: that model (else the server asks when there are several).
        const model = (item as { model?: { label?: unknown } } | undefined)?.model?.label;
        await registerModelFromRun(manager, runId, typeof model === "string" ? model : undefined);
        models.provider.refresh();
      }
    }),
    vscode.workspace.onDidChangeConfiguration((event) => {
      if (affectsServer(event)) {
        void manager.restart("settings changed");
      }
    }),
    vscode.workspace.onDidGrantWorkspaceTrust(() => void manager.restart("workspace trusted")),
    models,
    ...registerMonitorCommands(context, manager),
    ...registerReportCommands(context, manager, tree),
    ...registerDeployCommands(context, manager),
    ...registerSweepCommands(manager, tree),
    ...registerComputeCommands(manager, runs),
    ...registerTrackingToken(context, manager),
  );
  void onInterpreterChanged(() => void manager.restart("interpreter changed")).then((watch) => {
    if (watch) {
      context.subscriptions.push(watch);
    }
  });
  void manager.start();
}

function disposeAll(disposables: vscode.Disposable[]): void {
  for (const d of disposables) {
    d.dispose();
  }
}

/** Cancel from a tree item (its run id), or pick among the running runs (palette). */
async function cancelFromAnywhere(runs: RunController, item: unknown): Promise<void> {
  const runId = (item as { run?: { run_id?: string } } | undefined)?.run?.run_id;
  if (runId) {
    await runs.cancel(runId);
    return;
  }
  await showRunning(runs, "cancel");
}

export async function deactivate(): Promise<void> {
  await servers?.dispose();
  servers = undefined;
}
