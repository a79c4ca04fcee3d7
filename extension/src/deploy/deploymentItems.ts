// What the Deployments view shows for a listDeployments answer: an engine that cannot be reached
// as one help row, else the "Images" and "Containers" sections and their rows (labels,
// descriptions, tooltips, icons, context values for the menus). Pure (no vscode import), so the
// rows are unit-tested; deploymentsView.ts turns these specs into TreeItems.
import type { ContainerEntry, EngineState, ImageEntry, ListDeploymentsResult } from "../protocol";

/** Docker's own pages for the two ways the engine cannot be used. */
export const DOCKER_DOCS = {
  install: "https://docs.docker.com/engine/install/",
  postInstall: "https://docs.docker.com/engine/install/linux-postinstall/",
} as const;

/** Context values the menus in package.json match on (`viewItem == …`). */
export const DeployContext = {
  ENGINE_HELP: "deployEngineHelp",
  SECTION_IMAGES: "deploySection.images",
  SECTION_CONTAINERS: "deploySection.containers",
  IMAGE: "deployImage",
  CONTAINER_RUNNING: "deployContainer.running",
  CONTAINER_STOPPED: "deployContainer.stopped",
  MESSAGE: "deployMessage",
} as const;

export type DeploymentsNode =
  | { kind: "engine"; engine: EngineState }
  | { kind: "section"; section: "images" | "containers"; count: number }
  | { kind: "image"; image: ImageEntry }
  | { kind: "container"; container: ContainerEntry }
  | { kind: "message"; text: string; icon: string };

export interface ItemIcon {
  id: string;
  /** A theme color id, so the icon follows the color theme. */
  color?: string;
}

/** A row as plain data; the view adds the vscode types. */
export interface ItemSpec {
  id?: string;
  label: string;
  description?: string;
  tooltip?: string;
  contextValue: string;
  icon: ItemIcon;
  expanded?: boolean;
  /** An address the row opens in the browser when clicked. */
  opens?: string;
  accessibilityLabel?: string;
}

/** The view's top rows: the engine's help row alone, or the two sections. */
export function rootNodes(result: ListDeploymentsResult): DeploymentsNode[] {
  if (result.engine.status !== "running") {
    return [{ kind: "engine", engine: result.engine }];
  }
  return [
    { kind: "section", section: "images", count: result.images.length },
    { kind: "section", section: "containers", count: result.containers.length },
  ];
}

/** A section's rows, or the hint of what to do when it is empty. */
export function sectionNodes(result: ListDeploymentsResult, section: "images" | "containers"): DeploymentsNode[] {
  if (section === "images") {
    return result.images.length > 0
      ? result.images.map((image) => ({ kind: "image", image }))
      : [{ kind: "message", text: "No images yet: right-click an ended run → Build Container…", icon: "info" }];
  }
  return result.containers.length > 0
    ? result.containers.map((container) => ({ kind: "container", container }))
    : [{ kind: "message", text: "No containers: right-click an image → Start Container", icon: "info" }];
}

/** Whether a container is still starting, the only time the view looks again by itself. */
export function isStarting(result: ListDeploymentsResult | undefined): boolean {
  return result?.engine.status === "running" && result.containers.some((c) => c.health === "starting" || c.status === "created");
}

export function megabytes(bytes: number): string {
  const mb = bytes / 1_000_000;
  return `${mb >= 100 ? mb.toFixed(0) : mb.toFixed(1)} MB`;
}

export function shortId(id: string): string {
  return id.replace(/^sha256:/, "").slice(0, 8);
}

/** An image by its first tag (what the user typed), else its short id. */
export function imageName(image: ImageEntry): string {
  return image.tags[0] ?? shortId(image.id);
}

/** `127.0.0.1:PORT` from the container's published URL. */
export function hostPort(url: string | undefined): string | undefined {
  return url?.replace(/^[a-z]+:\/\//i, "").replace(/\/$/, "");
}

/** `status · health · 127.0.0.1:PORT`, each part only when known. */
export function containerDescription(container: ContainerEntry): string {
  return [container.status, container.health, hostPort(container.url)].filter((part): part is string => !!part).join(" \u00b7 ");
}

export function isRunning(container: ContainerEntry): boolean {
  return container.status === "running";
}

export function itemSpec(node: DeploymentsNode): ItemSpec {
  switch (node.kind) {
    case "engine":
      return engineSpec(node.engine);
    case "section":
      return node.section === "images"
        ? { id: "deploy/images", label: "Images", description: String(node.count), contextValue: DeployContext.SECTION_IMAGES, icon: { id: "layers" }, expanded: true }
        : {
            id: "deploy/containers",
            label: "Containers",
            description: String(node.count),
            contextValue: DeployContext.SECTION_CONTAINERS,
            icon: { id: "vm" },
            expanded: true,
          };
    case "image":
      return imageSpec(node.image);
    case "container":
      return containerSpec(node.container);
    case "message":
      return { label: node.text, tooltip: node.text, contextValue: DeployContext.MESSAGE, icon: { id: node.icon } };
  }
}

function engineSpec(engine: EngineState): ItemSpec {
  const denied = engine.status === "permission-denied";
  const message = engine.message ?? (denied ? "Permission denied on the Docker socket" : "No Docker engine is running");
  const fix = engine.fix ?? (denied ? "Add your user to the 'docker' group, then log in again." : "Install and start Docker, or set DOCKER_HOST.");
  const docs = denied ? DOCKER_DOCS.postInstall : DOCKER_DOCS.install;
  return {
    id: "deploy/engine",
    label: message,
    description: fix,
    tooltip: `${message}\n\n${fix}\n\nEngine: ${engine.host}\nClick to open Docker's ${denied ? "post-installation steps" : "installation guide"} (${docs}).`,
    contextValue: DeployContext.ENGINE_HELP,
    icon: { id: denied ? "lock" : "warning", color: "problemsWarningIcon.foreground" },
    opens: docs,
    accessibilityLabel: `${message}. ${fix}`,
  };
}

function imageSpec(image: ImageEntry): ItemSpec {
  const name = imageName(image);
  const parts = [megabytes(image.sizeBytes)];
  if (image.runId) {
    parts.push(`run ${image.runId.slice(0, 8)}`);
  }
  const lines = [name, `${image.id}`, `Size: ${megabytes(image.sizeBytes)}`, `Model: ${image.modelUri}`];
  if (image.flavor) {
    lines.push(`Flavor: ${image.flavor}`);
  }
  if (image.created) {
    lines.push(`Created: ${image.created}`);
  }
  if (image.tags.length > 1) {
    lines.push(`Also tagged: ${image.tags.slice(1).join(", ")}`);
  }
  return {
    id: `deploy/image/${image.id}`,
    label: name,
    description: parts.join(" \u00b7 "),
    tooltip: lines.join("\n"),
    contextValue: DeployContext.IMAGE,
    icon: { id: "package" },
    accessibilityLabel: `Image ${name}, ${parts.join(", ")}`,
  };
}

function containerSpec(container: ContainerEntry): ItemSpec {
  const description = containerDescription(container);
  const lines = [container.name, `Image: ${container.image}`, `Status: ${description}`];
  if (container.url) {
    lines.push(`URL: ${container.url}`);
  }
  if (container.runId) {
    lines.push(`Run: ${container.runId}`);
  }
  lines.push(container.startedByEditor ? "Started from the editor" : "Started by the CLI (its token is not held here)");
  return {
    id: `deploy/container/${container.id}`,
    label: container.name,
    description,
    tooltip: lines.join("\n"),
    contextValue: isRunning(container) ? DeployContext.CONTAINER_RUNNING : DeployContext.CONTAINER_STOPPED,
    icon: containerIcon(container),
    accessibilityLabel: `Container ${container.name}, ${description.replace(/ \u00b7 /g, ", ")}`,
  };
}

function containerIcon(container: ContainerEntry): ItemIcon {
  if (!isRunning(container)) {
    return { id: "vm-outline", color: "disabledForeground" };
  }
  switch (container.health) {
    case "starting":
      return { id: "loading~spin" };
    case "unhealthy":
      return { id: "vm-running", color: "testing.iconFailed" };
    case "healthy":
      return { id: "vm-running", color: "testing.iconPassed" };
    default:
      return { id: "vm-running" };
  }
}
