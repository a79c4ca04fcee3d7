// Registers the deploy feature: the Deployments view and its commands (deploymentActions.ts),
// the run actions of the Runs view (runDeployActions.ts), the build log notifications of each
// (re)started server, and a failure shown with its fix whichever command it came from.
import * as vscode from "vscode";
import type { ServerManager } from "../common/serverManager";
import { Commands, Views } from "../protocol";
import { showDeployFailure } from "./deployFailures";
import { DeploymentActions } from "./deploymentActions";
import { RunDeployActions } from "./runDeployActions";

export function registerDeployCommands(context: vscode.ExtensionContext, servers: ServerManager): vscode.Disposable[] {
  const deploy = new DeploymentActions(servers);
  const runs = new RunDeployActions(context, servers, deploy);
  let notifications: vscode.Disposable | undefined;
  const on = (command: string, what: string, handler: (arg: unknown) => Promise<void>): vscode.Disposable =>
    vscode.commands.registerCommand(command, async (arg: unknown) => {
      try {
        await handler(arg);
      } catch (error) {
        await showDeployFailure(what, error, deploy.hooks);
      }
    });
  return [
    deploy,
    vscode.window.createTreeView(Views.DEPLOYMENTS, { treeDataProvider: deploy.view, showCollapseAll: true }),
    servers.onReady((client) => {
      notifications?.dispose();
      notifications = deploy.builds.attach(client);
      deploy.view.refresh();
    }),
    {
      dispose: () => {
        notifications?.dispose();
      },
    },
    vscode.commands.registerCommand(Commands.REFRESH_DEPLOYMENTS, () => deploy.view.refresh()),
    on(Commands.START_CONTAINER, "starting the container", (arg) => deploy.startContainer(arg)),
    on(Commands.STOP_CONTAINER, "stopping the container", (arg) => deploy.stopContainer(arg)),
    on(Commands.SHOW_CONTAINER_LOGS, "reading the container's logs", (arg) => deploy.showLogs(arg)),
    on(Commands.REMOVE_IMAGE, "removing the image", (arg) => deploy.removeImage(arg)),
    on(Commands.NEW_TEST_REQUEST, "preparing a test request", (arg) => deploy.newTestRequest(arg)),
    on(Commands.SEND_TEST_REQUEST, "sending the test request", () => deploy.sendTestRequest()),
    on(Commands.SERVE_LOCALLY, "serving the model", (arg) => runs.serve(arg)),
    on(Commands.BUILD_CONTAINER, "building the container", (arg) => runs.buildContainer(arg)),
    on(Commands.GENERATE_K8S, "writing Kubernetes manifests", (arg) => runs.generateK8s(arg)),
    on(Commands.GENERATE_WORKFLOW, "writing the workflow", (arg) => runs.generateWorkflow(arg)),
  ];
}

