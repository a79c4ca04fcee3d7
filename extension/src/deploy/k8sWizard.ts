// Generate Kubernetes Manifests: which image (one of the view's, or typed), the resource name
// (DNS-1035, checked as typed), replicas and an autoscaler; then writeK8sManifests, asking before
// overwriting, and the Deployment opened.
import * as vscode from "vscode";
import { request, type WorkspaceClient } from "../common/requests";
import { type ImageEntry, Requests, type WriteK8sParams } from "../protocol";
import { imageName, megabytes } from "./deploymentItems";
import { deploymentFile } from "./deployFormat";
import { defaultResourceName, imageReferenceProblem, replicasProblem, resourceNameProblem } from "./deployNames";
import { openWritten, writeAsking } from "./writtenFiles";

const TITLE = "Generate Kubernetes Manifests";

export interface ImageChoice {
  /** The image to prefill (an image row was clicked). */
  image?: string;
  /** Images to offer first (those built from the clicked run). */
  preferRunId?: string;
  /** What to suggest when the user types one. */
  suggested?: string;
}

/** Asks for the manifests' inputs, writes them and opens the Deployment. */
export async function generateK8sManifests(target: WorkspaceClient, images: readonly ImageEntry[], choice: ImageChoice): Promise<boolean> {
  const params = await askK8s(images, choice);
  if (!params) {
    return false;
  }
  const written = await writeAsking("Kubernetes manifests", (force) =>
    request(target.client, Requests.WRITE_K8S, { ...params, workspaceUri: target.workspaceUri, force }),
  );
  if (!written) {
    return false;
  }
  await openWritten(deploymentFile(written.files));
  void vscode.window.showInformationMessage(`ML Workbench: wrote ${written.files.length} manifest${written.files.length === 1 ? "" : "s"} for ${params.image}.`);
  return true;
}

async function askK8s(images: readonly ImageEntry[], choice: ImageChoice): Promise<Omit<WriteK8sParams, "workspaceUri"> | undefined> {
  const image = choice.image ?? (await pickImage(images, choice));
  if (!image) {
    return undefined;
  }
  const suggested = defaultResourceName(image);
  const name = await vscode.window.showInputBox({
    title: `${TITLE}: name`,
    prompt: "The name of the Deployment, Service and autoscaler (lower-case letters, digits and '-', starting with a letter)",
    value: suggested,
    valueSelection: [0, suggested.length],
    ignoreFocusOut: true,
    validateInput: (value) => resourceNameProblem(value.trim()),
  });
  if (name === undefined) {
    return undefined;
  }
  const replicas = await vscode.window.showInputBox({
    title: `${TITLE}: replicas`,
    prompt: "How many copies of the model server to run",
    value: "2",
    ignoreFocusOut: true,
    validateInput: replicasProblem,
  });
  if (replicas === undefined) {
    return undefined;
  }
  const hpa = await vscode.window.showQuickPick(
    [
      { label: "Add an autoscaler", detail: "A HorizontalPodAutoscaler that adds replicas when CPU use is high", value: true },
      { label: "No autoscaler", detail: "A fixed number of replicas", value: false },
    ],
    { title: `${TITLE}: autoscaling`, ignoreFocusOut: true },
  );
  if (hpa === undefined) {
    return undefined;
  }
  return { image, name: name.trim(), replicas: Number(replicas.trim()), hpa: hpa.value };
}

async function pickImage(images: readonly ImageEntry[], choice: ImageChoice): Promise<string | undefined> {
  const typed = "\u0000typed";
  const ordered = [...images.filter((i) => i.runId === choice.preferRunId), ...images.filter((i) => i.runId !== choice.preferRunId)];
  const items = ordered.map((image) => ({
    label: imageName(image),
    description: [megabytes(image.sizeBytes), image.runId ? `run ${image.runId.slice(0, 8)}` : undefined].filter(Boolean).join(" \u00b7 "),
    detail: image.runId !== undefined && image.runId === choice.preferRunId ? "Built from this run" : image.modelUri,
    value: imageName(image),
  }));
  items.push({ label: "$(edit) Enter an image reference\u2026", description: "", detail: "An image in a registry (NAME:TAG or NAME@sha256:…)", value: typed });
  const picked = await vscode.window.showQuickPick(items, {
    title: `${TITLE}: image`,
    placeHolder: images.length === 0 ? "No image built yet: enter one, or build a run's container first" : "The image the Deployment runs",
    ignoreFocusOut: true,
    matchOnDescription: true,
  });
  if (picked?.value !== typed) {
    return picked?.value;
  }
  const image = await vscode.window.showInputBox({
    title: `${TITLE}: image`,
    prompt: "The image to run, as the cluster pulls it (push it to a registry the cluster can reach)",
    value: choice.suggested ?? "",
    ignoreFocusOut: true,
    validateInput: (value) => imageReferenceProblem(value.trim(), true),
  });
  return image?.trim() || undefined;
}
