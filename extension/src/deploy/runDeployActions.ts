// The deploy actions on an ended run (its row in the Runs view, a model under it, or a run
// picked from the palette): serve its model locally, build its container, generate Kubernetes
// manifests or a GitHub Actions workflow.
import * as vscode from "vscode";
import { request } from "../common/requests";
import type { ServerManager } from "../common/serverManager";
import { type BuildImageResult, Requests, type RunModel, type RunSummary } from "../protocol";
import { ensureTrusted } from "../scripts/trust";
import { buildSummary } from "./deployFormat";
import { type DeploymentActions, imageOf } from "./deploymentActions";
import { imageName } from "./deploymentItems";
import { defaultImageTag, imageReferenceProblem } from "./deployNames";
import { generateK8sManifests } from "./k8sWizard";
import { serveLocally } from "./localServing";
import { generateWorkflow } from "./workflowWizard";
import { pickEndedRun } from "../explorer/runPicker";

/** A run a command is about, and which of its models when a model's row was clicked. */
interface DeployRun {
  runId: string;
  runName: string;
  model?: string;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A run from a Runs view row (a run, or a model under it) or `{runId}`. */
function runOf(arg: unknown): DeployRun | undefined {
  if (!isRecord(arg)) {
    return undefined;
  }
  const run = isRecord(arg.run) ? (arg.run as Partial<RunSummary>) : undefined;
  const model = isRecord(arg.model) ? (arg.model as Partial<RunModel>) : undefined;
  if (run?.run_id) {
    return { runId: run.run_id, runName: run.run_name ?? run.run_id.slice(0, 8), model: arg.kind === "model" ? model?.label : undefined };
  }
  if (typeof arg.runId === "string") {
    return { runId: arg.runId, runName: typeof arg.runName === "string" ? arg.runName : arg.runId.slice(0, 8) };
  }
  return undefined;
}

export class RunDeployActions {
  constructor(
    private readonly context: vscode.ExtensionContext,
    private readonly servers: ServerManager,
    private readonly deployments: DeploymentActions,
  ) {}

  async serve(arg: unknown): Promise<void> {
    const run = runOf(arg) ?? (await this.pickRun("Serve the model of which run?"));
    if (run) {
      await serveLocally(this.context, this.servers, run);
    }
  }

  async buildContainer(arg: unknown): Promise<void> {
    const run = runOf(arg) ?? (await this.pickRun("Build a container for the model of which run?"));
    if (!run || !(await ensureTrusted("build a container (building runs the model's packaging code)"))) {
      return;
    }
    const suggested = defaultImageTag(run.runName, run.runId);
    const tag = await vscode.window.showInputBox({
      title: `Build Container: ${run.runName}`,
      prompt: "The image's NAME:TAG (lower-case name; the tag may use letters, digits, '_', '.' and '-')",
      value: suggested,
      valueSelection: [0, suggested.indexOf(":") > 0 ? suggested.indexOf(":") : suggested.length],
      ignoreFocusOut: true,
      validateInput: (value) => imageReferenceProblem(value.trim()),
    });
    if (tag === undefined) {
      return;
    }
    const mode = await vscode.window.showQuickPick(
      [
        { label: "Build", detail: "Build and tag the image", smokeTest: false },
        {
          label: "Build and test the container",
          detail: "Then start it once, wait until it is healthy and check a prediction against the model's own",
          smokeTest: true,
        },
      ],
      { title: `Build Container: ${tag.trim()}`, ignoreFocusOut: true },
    );
    if (!mode) {
      return;
    }
    const baseImage = vscode.workspace.getConfiguration("mlWorkbench").get<string>("deploy.baseImage", "").trim();
    const target = this.deployments.server();
    let result: BuildImageResult | undefined;
    try {
      result = await this.deployments.builds.build(target, {
        runId: run.runId,
        model: run.model,
        tag: tag.trim(),
        smokeTest: mode.smokeTest,
        baseImage: baseImage || undefined,
      });
    } finally {
      this.deployments.view.refresh();
    }
    if (!result) {
      return;
    }
    const choice = await vscode.window.showInformationMessage(`ML Workbench: ${buildSummary(result)}`, "Start Container", "Show Log");
    if (choice === "Start Container") {
      await this.deployments.startContainer({ image: result.tag });
    } else if (choice === "Show Log") {
      await vscode.window.showTextDocument(vscode.Uri.file(result.logPath), { preview: true });
    }
  }

  async generateK8s(arg: unknown): Promise<void> {
    if (!(await ensureTrusted("write Kubernetes manifests"))) {
      return;
    }
    const image = imageOf(arg);
    const run = runOf(arg);
    const target = this.deployments.server();
    // Manifests need no engine: without one the user types the image (it is in a registry).
    const images = image ? [] : await this.deployments.view.list().then((listing) => listing.images, () => []);
    await generateK8sManifests(target, images, {
      image: image ? imageName(image) : undefined,
      preferRunId: run?.runId,
      suggested: run ? defaultImageTag(run.runName, run.runId) : undefined,
    });
  }

  async generateWorkflow(arg: unknown): Promise<void> {
    if (!(await ensureTrusted("write a GitHub Actions workflow"))) {
      return;
    }
    const target = this.deployments.server();
    const run = runOf(arg);
    // The run's training script (its provenance tag), when the command came from a run.
    const script = run
      ? (await request(target.client, Requests.RUN_DETAILS, { workspaceUri: target.workspaceUri, runId: run.runId })).script ?? undefined
      : undefined;
    await generateWorkflow(target, script);
  }

  /** An ended run (newest first): a model is only there once its run has finished. */
  private async pickRun(title: string): Promise<DeployRun | undefined> {
    const run = await pickEndedRun(this.deployments.server(), { title, emptyMessage: "there is no ended run yet: run a training script first." });
    return run ? { runId: run.run_id, runName: run.run_name } : undefined;
  }

}
