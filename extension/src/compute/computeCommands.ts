// Registers the compute-target feature: the Compute view and its commands (start/stop the
// workbench's local Ray cluster, add a Ray cluster to the machine setting, start/stop the
// workspace's tracking server) and Run on… (lens, editor menus, palette), which sends a script to
// a Ray target through the same run path as Run: a terminal that streams the job's log, Ctrl+C
// cancels the job, the Runs view shows the run.
import * as path from "path";
import * as vscode from "vscode";
import { traceError } from "../common/log";
import { request, workspaceClient } from "../common/requests";
import type { ServerManager } from "../common/serverManager";
import type { RunController } from "../launch/runController";
import { Commands, type ComputeTargetState, Requests, Views } from "../protocol";
import { targetUri } from "../scripts/scriptCommands";
import { ensureTrusted } from "../scripts/trust";
import { type TargetChoice, parseTargetSettings, targetChoices } from "./computeItems";
import { ComputeTreeProvider, computeTargetSettings } from "./computeView";

export function registerComputeCommands(servers: ServerManager, runs: RunController): vscode.Disposable[] {
  const view = new ComputeTreeProvider(servers);
  const compute = new ComputeCommands(servers, runs, view);
  const on = (command: string, handler: (arg: unknown) => Promise<void>): vscode.Disposable =>
    vscode.commands.registerCommand(command, async (arg: unknown) => {
      try {
        await handler(arg);
      } catch (error) {
        traceError(`${command} failed`, error);
        const message = error instanceof Error ? error.message : String((error as { message?: unknown })?.message ?? error);
        void vscode.window.showErrorMessage(`ML Workbench: ${message}`);
      } finally {
        view.refresh();
      }
    });
  return [
    view,
    vscode.window.createTreeView(Views.COMPUTE, { treeDataProvider: view }),
    servers.onReady(() => view.refresh()),
    vscode.workspace.onDidChangeConfiguration((event) => {
      if (event.affectsConfiguration("mlWorkbench.computeTargets")) {
        view.refresh();
      }
    }),
    vscode.commands.registerCommand(Commands.REFRESH_COMPUTE, () => view.refresh()),
    on(Commands.START_LOCAL_CLUSTER, () => compute.startCluster().then(() => undefined)),
    on(Commands.STOP_LOCAL_CLUSTER, () => compute.stopCluster()),
    on(Commands.ADD_COMPUTE_TARGET, () => compute.addTarget()),
    on(Commands.START_TRACKING_SERVER, () => compute.startTrackingServer()),
    on(Commands.STOP_TRACKING_SERVER, () => compute.stopTrackingServer()),
    on(Commands.RUN_SCRIPT_ON, (arg) => compute.runOn(arg)),
  ];
}

class ComputeCommands {
  constructor(
    private readonly servers: ServerManager,
    private readonly runs: RunController,
    private readonly view: ComputeTreeProvider,
  ) {}

  private client(): NonNullable<ReturnType<typeof workspaceClient>> {
    const target = workspaceClient(this.servers);
    if (!target) {
      throw new Error("the server is not running yet (see ML Workbench: Show Log)");
    }
    return target;
  }

  /** `ray start --head` on 127.0.0.1, in a private temp folder; the server answers once the
   * cluster takes jobs. */
  async startCluster(): Promise<ComputeTargetState | undefined> {
    if (!(await ensureTrusted("start a Ray cluster"))) {
      return undefined;
    }
    const { client, workspaceUri } = this.client();
    const state = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: "ML Workbench: starting the local Ray cluster on 127.0.0.1…" },
      () => request(client, Requests.START_LOCAL_CLUSTER, { workspaceUri }),
    );
    void vscode.window.showInformationMessage(`ML Workbench: the local Ray cluster is running at ${state.address ?? "?"}.`);
    return state;
  }

  async stopCluster(): Promise<void> {
    const choice = await vscode.window.showWarningMessage(
      "Stop the local Ray cluster? Jobs still running on it are stopped.",
      { modal: true },
      "Stop Cluster",
    );
    if (choice !== "Stop Cluster") {
      return;
    }
    const { client } = this.client();
    const { stopped } = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: "ML Workbench: stopping the local Ray cluster…" },
      () => request(client, Requests.STOP_LOCAL_CLUSTER, {}),
    );
    void vscode.window.showInformationMessage(
      stopped ? "ML Workbench: the local Ray cluster is stopped." : "ML Workbench: no local Ray cluster was running.",
    );
  }

  /** Adds a Ray cluster to the user's (machine) settings, never the workspace's. */
  async addTarget(): Promise<void> {
    const existing = computeTargetSettings().targets;
    const name = await vscode.window.showInputBox({
      title: "Add a Ray Cluster (1/2)",
      prompt: "A name for the cluster",
      validateInput: (value) =>
        value.trim() === "" ? "Give it a name" : existing.some((t) => t.name === value.trim()) ? "That name is taken" : undefined,
    });
    if (name === undefined) {
      return;
    }
    const address = await vscode.window.showInputBox({
      title: "Add a Ray Cluster (2/2)",
      prompt: "The Ray dashboard's address (jobs are submitted there)",
      value: "http://127.0.0.1:8265",
      validateInput: (value) => parseTargetSettings([{ name, address: value }]).problems[0]?.replace(/^.*?: /, ""),
    });
    if (address === undefined) {
      return;
    }
    const raw = vscode.workspace.getConfiguration("mlWorkbench").inspect<unknown[]>("computeTargets")?.globalValue ?? [];
    await vscode.workspace
      .getConfiguration("mlWorkbench")
      .update("computeTargets", [...raw, { name: name.trim(), address: address.trim() }], vscode.ConfigurationTarget.Global);
  }

  async startTrackingServer(): Promise<void> {
    if (!(await ensureTrusted("start a tracking server"))) {
      return;
    }
    const { client, workspaceUri } = this.client();
    const state = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: "ML Workbench: starting the workspace's tracking server…" },
      () => request(client, Requests.START_TRACKING_SERVER, { workspaceUri }),
    );
    void vscode.window.showInformationMessage(`ML Workbench: the tracking server is running at ${state.uri}.`);
  }

  async stopTrackingServer(): Promise<void> {
    const { client, workspaceUri } = this.client();
    const { stopped } = await request(client, Requests.STOP_TRACKING_SERVER, { workspaceUri });
    void vscode.window.showInformationMessage(
      stopped ? "ML Workbench: the tracking server is stopped." : "ML Workbench: the tracking server was not running.",
    );
  }

  /** Run on…: pick a target, starting the local cluster first when that is the pick. */
  async runOn(arg: unknown): Promise<void> {
    const uri = targetUri(arg);
    if (!uri || uri.scheme !== "file") {
      void vscode.window.showErrorMessage("ML Workbench: open a Python training script (a file on disk) to run it.");
      return;
    }
    if (!(await ensureTrusted("run this script"))) {
      return;
    }
    const listing = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Window, title: "Looking for compute targets…" },
      () => this.view.list(),
    );
    const { choices, unreachable } = targetChoices(listing.targets);
    type Item = vscode.QuickPickItem & { choice?: TargetChoice; add?: boolean };
    const items: Item[] = choices.map((choice) => ({ label: choice.label, description: choice.description, detail: choice.detail, choice }));
    if (unreachable.length > 0) {
      items.push({ label: "Unreachable", kind: vscode.QuickPickItemKind.Separator });
      items.push(...unreachable.map((line) => ({ label: `$(error) ${line}` })));
    }
    items.push({ label: "", kind: vscode.QuickPickItemKind.Separator });
    items.push({ label: "$(add) Add a Ray Cluster…", add: true });
    const picked = await vscode.window.showQuickPick(items, {
      title: `Run ${path.basename(uri.fsPath)} on…`,
      placeHolder: "Where the script runs; runs on Ray track to the workspace's tracking server",
    });
    if (!picked) {
      return;
    }
    if (picked.add) {
      await this.addTarget();
      return;
    }
    const choice = picked.choice;
    if (!choice) {
      void vscode.window.showErrorMessage(`ML Workbench: ${picked.label.replace(/^\$\(error\) /, "")}`);
      return;
    }
    let target = choice.target;
    if (choice.startCluster) {
      const started = await this.startCluster();
      if (!started?.address) {
        return;
      }
      target = { name: started.name, address: started.address };
    }
    await this.runs.start(uri, [], target);
  }
}
