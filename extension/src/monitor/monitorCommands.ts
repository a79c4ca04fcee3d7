// Open the MLflow UI or TensorBoard that the server starts behind a gate on 127.0.0.1, and stop
// them. The URL the server returns carries the gate's secret once (`?mlwb-token=…`): opening it
// logs the browser in (a cookie), so it is opened and offered but never written to the log. It
// goes through asExternalUri, so it also works when the editor runs remotely (SSH, containers,
// code-server): VS Code forwards the port.
import * as net from "net";
import * as vscode from "vscode";
import { ServerManager } from "../common/serverManager";
import { traceInfo } from "../common/log";
import { request, RequestClient } from "../common/requests";
import { Commands, ContextKeys, OpenMonitorParams, Requests } from "../protocol";
import { ensureTrusted } from "../scripts/trust";

const LABELS: Record<string, string> = { mlflow: "MLflow UI", tensorboard: "TensorBoard" };

function clientOf(servers: ServerManager): RequestClient {
  const client = servers.languageClient;
  if (!client) {
    throw new Error("the server is not running yet (see ML Workbench: Show Log)");
  }
  return client;
}

function workspaceUri(): string {
  const folder = vscode.workspace.workspaceFolders?.[0];
  if (!folder) {
    throw new Error("open a folder first: the MLflow UI and TensorBoard show a workspace's runs");
  }
  return folder.uri.toString();
}

async function setRunning(running: boolean): Promise<void> {
  await vscode.commands.executeCommand("setContext", ContextKeys.MONITORS_RUNNING, running);
}

async function open(servers: ServerManager, kind: "mlflow" | "tensorboard", runId?: string): Promise<void> {
  if (!(await ensureTrusted(`start ${LABELS[kind]}`))) {
    return;
  }
  const folderUri = workspaceUri();
  const { port, allowedHosts } = await listenOptions();
  const result = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `ML Workbench: starting ${LABELS[kind]}…` },
    () => request(clientOf(servers), Requests.OPEN_MONITOR, { workspaceUri: folderUri, kind, runId: runId || undefined, port, allowedHosts }),
  );
  await setRunning(true);
  const local = vscode.Uri.parse(result.url);
  traceInfo(`${LABELS[kind]} ${result.reused ? "already running" : "started"} at ${local.with({ query: "" }).toString(true)}`);
  const external = withQuery(await vscode.env.asExternalUri(local), local);
  await vscode.env.openExternal(external);
  // Not awaited: the offer stays in the notification area without holding the command. No
  // Simple Browser: it shows the page in a cross-site frame, where the gate's SameSite=Strict
  // login cookie is never sent.
  void vscode.window
    .showInformationMessage(`ML Workbench: ${LABELS[kind]} at ${external.toString(true)}`, "Open in Browser")
    .then((choice) => choice && vscode.env.openExternal(external));
}

/**
 * The external URI with the local one's query (the gate's secret). code-server maps a
 * localhost URI to its `/proxy/<port>/` base and drops the rest; port forwarding keeps it.
 */
function withQuery(external: vscode.Uri, local: vscode.Uri): vscode.Uri {
  return external.query || !local.query ? external : external.with({ query: local.query });
}

/**
 * The monitor's port, and how the browser will reach it. Remote editors (code-server's
 * /proxy/<port>/, forwarded ports) send another Host header than 127.0.0.1:<port>, which the
 * gate (and MLflow's host allow-list) answers with 403; so the port is chosen here (the
 * extension host runs beside the server), its external URI asked for, and that authority
 * allowed too.
 */
async function listenOptions(): Promise<Required<Pick<OpenMonitorParams, "port" | "allowedHosts">>> {
  const port = await new Promise<number>((resolve, reject) => {
    const probe = net.createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      probe.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no free port"))));
    });
  });
  const local = `127.0.0.1:${port}`;
  const external = await vscode.env.asExternalUri(vscode.Uri.parse(`http://${local}/`));
  const allowedHosts = external.authority && external.authority !== local ? [external.authority] : [];
  return { port, allowedHosts };
}

/** The run a TensorBoard command is about: the clicked run, else a pick among recent runs. */
async function pickRun(servers: ServerManager, item: unknown): Promise<string | undefined> {
  const clicked = (item as { run?: { run_id?: unknown } } | undefined)?.run?.run_id;
  if (typeof clicked === "string") {
    return clicked;
  }
  const { runs } = await request(clientOf(servers), Requests.LIST_RUNS, { workspaceUri: workspaceUri() });
  if (runs.length === 0) {
    void vscode.window.showInformationMessage("ML Workbench: no runs in this workspace yet.");
    return undefined;
  }
  const picked = await vscode.window.showQuickPick(
    runs.map((run) => ({
      label: run.run_name,
      description: `${run.experiment_name} · ${run.status}`,
      detail: run.script ?? undefined,
      runId: run.run_id,
    })),
    { title: "Open which run in TensorBoard?", matchOnDescription: true, matchOnDetail: true },
  );
  return picked?.runId;
}

async function stop(servers: ServerManager): Promise<void> {
  const { stopped } = await request(clientOf(servers), Requests.STOP_MONITORS, {});
  await setRunning(false);
  void vscode.window.showInformationMessage(
    stopped === 0 ? "ML Workbench: no MLflow UI or TensorBoard was running." : `ML Workbench: stopped ${stopped} server${stopped === 1 ? "" : "s"}.`,
  );
}

export function registerMonitorCommands(_context: vscode.ExtensionContext, servers: ServerManager): vscode.Disposable[] {
  const guarded =
    (handler: (arg: unknown) => Promise<void>) =>
    async (arg: unknown): Promise<void> => {
      try {
        await handler(arg);
      } catch (error) {
        void vscode.window.showErrorMessage(`ML Workbench: ${error instanceof Error ? error.message : String(error)}`);
      }
    };
  return [
    vscode.commands.registerCommand(Commands.OPEN_MLFLOW_UI, guarded(() => open(servers, "mlflow"))),
    vscode.commands.registerCommand(
      Commands.OPEN_TENSORBOARD,
      guarded(async (item) => {
        const runId = await pickRun(servers, item);
        if (runId) {
          await open(servers, "tensorboard", runId);
        }
      }),
    ),
    vscode.commands.registerCommand(Commands.STOP_MONITORS, guarded(() => stop(servers))),
    // A restarted server has started nothing yet (the old one stopped its servers on exit).
    servers.onReady(() => void setRunning(false)),
  ];
}
