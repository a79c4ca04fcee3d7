// What the Deployments view's rows do: start a container from an image, stop one, read its logs,
// remove an image, and open or send a test request; from the palette each asks for its image or
// container with a quick pick. Owns the view, the Deploy output channel and the build jobs that
// the run actions (runDeployActions.ts) share.
import * as vscode from "vscode";
import { request, type WorkspaceClient, workspaceClient } from "../common/requests";
import type { ServerManager } from "../common/serverManager";
import { type ContainerEntry, type EngineState, type ImageEntry, Requests } from "../protocol";
import { ensureTrusted } from "../scripts/trust";
import { DeployDocuments } from "./deployDocuments";
import type { FailureHooks } from "./deployFailures";
import { DeployLog } from "./deployLog";
import { containerDescription, type DeploymentsNode, imageName, isRunning, itemSpec, megabytes } from "./deploymentItems";
import { DeploymentsTreeProvider } from "./deploymentsView";
import { ImageBuilds } from "./imageBuilds";
import { TestRequests } from "./testRequests";

const CONTAINER_LOG_LINES = 500;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function imageOf(arg: unknown): ImageEntry | undefined {
  return isRecord(arg) && arg.kind === "image" ? (arg as Extract<DeploymentsNode, { kind: "image" }>).image : undefined;
}

export function containerOf(arg: unknown): ContainerEntry | undefined {
  return isRecord(arg) && arg.kind === "container" ? (arg as Extract<DeploymentsNode, { kind: "container" }>).container : undefined;
}

export class DeploymentActions implements vscode.Disposable {
  readonly log = new DeployLog();
  readonly builds = new ImageBuilds(this.log);
  readonly view: DeploymentsTreeProvider;
  private readonly documents = new DeployDocuments();
  private readonly tests = new TestRequests(this.documents);
  readonly hooks: FailureHooks;

  constructor(private readonly servers: ServerManager) {
    this.view = new DeploymentsTreeProvider(servers);
    this.hooks = { log: this.log, refresh: () => this.view.refresh() };
  }

  server(): WorkspaceClient {
    const target = workspaceClient(this.servers);
    if (!target) {
      throw new Error("the server is not running yet (see ML Workbench: Show Log)");
    }
    return target;
  }

  async startContainer(arg: unknown): Promise<void> {
    const image = imageOf(arg) ?? (isRecord(arg) && typeof arg.image === "string" ? arg.image : await this.pickImage("Start a container from which image?"));
    if (!image || !(await ensureTrusted("start a container (it runs the model's code)"))) {
      return;
    }
    const name = typeof image === "string" ? image : imageName(image);
    const target = this.server();
    let container: ContainerEntry;
    try {
      container = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: `ML Workbench: starting a container from ${name}` },
        () => request(target.client, Requests.START_CONTAINER, { image: typeof image === "string" ? image : image.id }),
      );
    } finally {
      this.view.refresh();
    }
    const choice = await vscode.window.showInformationMessage(
      `ML Workbench: started ${container.name}${container.url ? ` at ${container.url}` : ""} (${containerDescription(container)}).`,
      "Send Test Request",
      "Show Logs",
    );
    if (choice === "Send Test Request") {
      await this.tests.open(this.server(), container);
    } else if (choice === "Show Logs") {
      await this.showLogs({ kind: "container", container });
    }
  }

  async stopContainer(arg: unknown): Promise<void> {
    const container = containerOf(arg) ?? (await this.pickContainer("Stop which container?", false));
    if (!container || !(await ensureTrusted("stop containers"))) {
      return;
    }
    const choice = await vscode.window.showWarningMessage(
      `Stop the container ${container.name}?`,
      {
        modal: true,
        detail: `It serves ${container.image}${container.url ? ` at ${container.url}` : ""}. Stopping removes the container (its image stays): requests to it fail from then on.`,
      },
      "Stop",
    );
    if (choice !== "Stop") {
      return;
    }
    try {
      await request(this.server().client, Requests.STOP_CONTAINER, { containerId: container.id });
    } finally {
      this.view.refresh();
    }
    vscode.window.setStatusBarMessage(`Stopped ${container.name}`, 4000);
  }

  async showLogs(arg: unknown): Promise<void> {
    const container = containerOf(arg) ?? (await this.pickContainer("Show the logs of which container?", false));
    if (!container) {
      return;
    }
    const { text } = await request(this.server().client, Requests.CONTAINER_LOGS, { containerId: container.id, tail: CONTAINER_LOG_LINES });
    const body = text.trim() === "" ? `(${container.name} has written no log yet)\n` : text;
    await this.documents.show(this.documents.uriOf("logs", container.name, "log"), body, false);
  }

  async removeImage(arg: unknown): Promise<void> {
    const image = imageOf(arg) ?? (await this.pickImage("Remove which image?"));
    if (!image || !(await ensureTrusted("remove images"))) {
      return;
    }
    const name = imageName(image);
    const choice = await vscode.window.showWarningMessage(
      `Remove the image ${name}?`,
      { modal: true, detail: `${megabytes(image.sizeBytes)} of disk is freed; build the run's container again to get it back.` },
      "Remove",
    );
    if (choice !== "Remove") {
      return;
    }
    try {
      await request(this.server().client, Requests.REMOVE_IMAGE, { image: image.id });
    } finally {
      this.view.refresh();
    }
    vscode.window.setStatusBarMessage(`Removed ${name}`, 4000);
  }

  async newTestRequest(arg: unknown): Promise<void> {
    const container = containerOf(arg) ?? (await this.pickContainer("Send a test request to which container?", true));
    if (container) {
      await this.tests.open(this.server(), container);
    }
  }

  async sendTestRequest(): Promise<void> {
    const active = this.tests.activeBinding();
    if (!active) {
      const choice = await vscode.window.showInformationMessage(
        "ML Workbench: open a test request first (New Test Request on a running container), then send it from its editor.",
        "New Test Request",
      );
      if (choice) {
        await this.newTestRequest(undefined);
      }
      return;
    }
    if (!(await ensureTrusted("call containers"))) {
      return;
    }
    await this.tests.send(this.server(), active.document, active.container);
  }

  /** The engine's message and fix, with Docker's page one click away (never opened unasked). */
  private explainEngine(engine: EngineState): void {
    const spec = itemSpec({ kind: "engine", engine });
    void vscode.window.showWarningMessage(`ML Workbench: ${spec.label}. ${spec.description ?? ""}`.trim(), "How to Fix").then(async (choice) => {
      if (choice && spec.opens) {
        await vscode.env.openExternal(vscode.Uri.parse(spec.opens));
      }
    });
  }

  private async pickImage(title: string): Promise<ImageEntry | undefined> {
    const result = await this.view.list();
    if (result.engine.status !== "running") {
      this.explainEngine(result.engine);
      return undefined;
    }
    const images = result.images;
    if (images.length === 0) {
      void vscode.window.showInformationMessage("ML Workbench: no image built yet: right-click an ended run → Build Container\u2026");
      return undefined;
    }
    const picked = await vscode.window.showQuickPick(
      images.map((image) => ({
        label: imageName(image),
        description: [megabytes(image.sizeBytes), image.runId ? `run ${image.runId.slice(0, 8)}` : undefined].filter(Boolean).join(" \u00b7 "),
        detail: image.modelUri,
        image,
      })),
      { title, matchOnDescription: true, matchOnDetail: true },
    );
    return picked?.image;
  }

  private async pickContainer(title: string, runningOnly: boolean): Promise<ContainerEntry | undefined> {
    const result = await this.view.list();
    if (result.engine.status !== "running") {
      this.explainEngine(result.engine);
      return undefined;
    }
    const containers = result.containers.filter((container) => !runningOnly || isRunning(container));
    if (containers.length === 0) {
      void vscode.window.showInformationMessage(
        `ML Workbench: no ${runningOnly ? "running " : ""}container: right-click an image in the Deployments view → Start Container.`,
      );
      return undefined;
    }
    const picked = await vscode.window.showQuickPick(
      containers.map((container) => ({ label: container.name, description: containerDescription(container), detail: container.image, container })),
      { title, matchOnDescription: true, matchOnDetail: true },
    );
    return picked?.container;
  }

  dispose(): void {
    this.tests.dispose();
    this.documents.dispose();
    this.builds.dispose();
    this.view.dispose();
    this.log.dispose();
  }
}
