// What the Compute view shows for a listComputeTargets answer, and what Run on… offers: this
// machine, the workbench's local Ray cluster (started or not), the Ray clusters named in the
// machine setting `mlWorkbench.computeTargets`, and the workspace's tracking server. Pure (no
// vscode import), so rows, choices and the setting's checks are unit-tested; computeView.ts
// turns the specs into TreeItems.
import type { ComputeTargetSetting, ComputeTargetState, ListComputeTargetsResult, TrackingServerState } from "../protocol";

/** Context values the menus in package.json match on (`viewItem == …`). */
export const ComputeContext = {
  LOCAL: "computeTarget.local",
  CLUSTER_STOPPED: "computeTarget.managed.stopped",
  CLUSTER_RUNNING: "computeTarget.managed.running",
  RAY: "computeTarget.ray",
  TRACKING_RUNNING: "trackingServer.running",
  TRACKING_STOPPED: "trackingServer.stopped",
  MESSAGE: "computeMessage",
} as const;

export type ComputeNode =
  | { kind: "target"; target: ComputeTargetState }
  | { kind: "tracking"; server: TrackingServerState | null }
  | { kind: "message"; text: string; icon: string };

export interface ItemIcon {
  id: string;
  /** A theme color id, so the icon follows the color theme. */
  color?: string;
}

export interface ItemSpec {
  id: string;
  label: string;
  description?: string;
  tooltip: string;
  contextValue: string;
  icon: ItemIcon;
  accessibilityLabel: string;
}

export function rootNodes(result: ListComputeTargetsResult): ComputeNode[] {
  return [
    ...result.targets.map((target): ComputeNode => ({ kind: "target", target })),
    { kind: "tracking", server: result.trackingServer },
  ];
}

/** "2 nodes · 8 CPUs · 1 GPU", from what Ray reports. */
export function describeResources(target: ComputeTargetState): string {
  const parts: string[] = [];
  const count = (n: number, one: string, many: string): string => `${Number.isInteger(n) ? n : n.toFixed(1)} ${n === 1 ? one : many}`;
  if (target.nodes !== null) {
    parts.push(count(target.nodes, "node", "nodes"));
  }
  if (target.cpus !== null) {
    parts.push(count(target.cpus, "CPU", "CPUs"));
  }
  if (target.gpus !== null && target.gpus > 0) {
    parts.push(count(target.gpus, "GPU", "GPUs"));
  }
  return parts.join(" · ");
}

function targetSpec(target: ComputeTargetState): ItemSpec {
  if (target.kind === "local") {
    return {
      id: "compute:local",
      label: target.name,
      description: "this machine",
      tooltip: "Runs start here as processes of this machine and track to the workspace's store.",
      contextValue: ComputeContext.LOCAL,
      icon: { id: "vm" },
      accessibilityLabel: `${target.name}: this machine`,
    };
  }
  const resources = describeResources(target);
  if (target.managed && target.address === null) {
    return {
      id: "compute:managed",
      label: target.name,
      description: "stopped",
      tooltip: "ML Workbench's own Ray cluster on 127.0.0.1. Start it to run scripts on Ray.",
      contextValue: ComputeContext.CLUSTER_STOPPED,
      icon: { id: "circle-outline" },
      accessibilityLabel: `${target.name}: stopped`,
    };
  }
  const state = target.reachable ? resources || "reachable" : "unreachable";
  const tooltip = [
    `${target.name} — Ray at ${target.address ?? "?"}`,
    target.reachable ? resources : (target.error ?? "not reachable"),
  ]
    .filter((line) => line !== "")
    .join("\n");
  return {
    id: target.managed ? "compute:managed" : `compute:ray:${target.name}:${target.address ?? ""}`,
    label: target.name,
    description: target.managed ? `running · ${state}` : state,
    tooltip,
    contextValue: target.managed ? ComputeContext.CLUSTER_RUNNING : ComputeContext.RAY,
    icon: target.reachable ? { id: "pass-filled", color: "testing.iconPassed" } : { id: "error", color: "problemsErrorIcon.foreground" },
    accessibilityLabel: `${target.name}: ${target.reachable ? `reachable, ${resources}` : `unreachable, ${target.error ?? ""}`}`,
  };
}

export function itemSpec(node: ComputeNode): ItemSpec {
  switch (node.kind) {
    case "target":
      return targetSpec(node.target);
    case "tracking":
      return node.server
        ? {
            id: "compute:tracking",
            label: "Tracking server",
            description: node.server.uri,
            tooltip: `The workspace's MLflow tracking server (runs on Ray track here)\n${node.server.uri}\nbackend: ${node.server.backend}\npid ${node.server.pid}`,
            contextValue: ComputeContext.TRACKING_RUNNING,
            icon: { id: "database", color: "testing.iconPassed" },
            accessibilityLabel: `Tracking server running at ${node.server.uri}`,
          }
        : {
            id: "compute:tracking",
            label: "Tracking server",
            description: "stopped",
            tooltip: "The workspace's MLflow tracking server. Runs on a Ray target start it when they need it.",
            contextValue: ComputeContext.TRACKING_STOPPED,
            icon: { id: "database" },
            accessibilityLabel: "Tracking server stopped",
          };
    case "message":
      return {
        id: `compute:message:${node.text}`,
        label: node.text,
        tooltip: node.text,
        contextValue: ComputeContext.MESSAGE,
        icon: { id: node.icon },
        accessibilityLabel: node.text,
      };
  }
}

/** One entry of the Run on… picker. `address` undefined: run here, as Run does. */
export interface TargetChoice {
  label: string;
  description: string;
  detail?: string;
  target?: { name: string; address: string };
  /** The picker offers to start the workbench's cluster first. */
  startCluster?: boolean;
}

/** Run on…'s choices: reachable Ray targets first, then the stopped local cluster (started
 * on pick), then this machine; unreachable targets are listed with why, but not offered. */
export function targetChoices(targets: ComputeTargetState[]): { choices: TargetChoice[]; unreachable: string[] } {
  const choices: TargetChoice[] = [];
  const unreachable: string[] = [];
  for (const target of targets) {
    if (target.kind !== "ray") {
      continue;
    }
    if (target.managed && target.address === null) {
      choices.push({ label: `$(play) ${target.name}`, description: "start it on 127.0.0.1, then run", startCluster: true });
    } else if (target.reachable && target.address !== null) {
      choices.push({
        label: `$(server-environment) ${target.name}`,
        description: describeResources(target),
        detail: target.address,
        target: { name: target.name, address: target.address },
      });
    } else {
      unreachable.push(`${target.name}: ${target.error ?? "not reachable"}`);
    }
  }
  choices.push({ label: "$(vm) Local", description: "this machine, as Run does" });
  return { choices, unreachable };
}

const ADDRESS = /^https?:\/\/[^\s/?#@]+(:\d{1,5})?\/?$/i;

/** The machine setting's entries that can be used, and what is wrong with the others. */
export function parseTargetSettings(raw: unknown): { targets: ComputeTargetSetting[]; problems: string[] } {
  const targets: ComputeTargetSetting[] = [];
  const problems: string[] = [];
  if (raw === undefined || raw === null) {
    return { targets, problems };
  }
  if (!Array.isArray(raw)) {
    return { targets, problems: ["mlWorkbench.computeTargets must be a list of { name, address } entries"] };
  }
  const names = new Set<string>();
  raw.forEach((entry: unknown, index) => {
    const where = `mlWorkbench.computeTargets[${index}]`;
    if (typeof entry !== "object" || entry === null) {
      problems.push(`${where} is not a { name, address } entry`);
      return;
    }
    const { name, address } = entry as { name?: unknown; address?: unknown };
    if (typeof name !== "string" || name.trim() === "") {
      problems.push(`${where} has no name`);
      return;
    }
    if (typeof address !== "string" || !ADDRESS.test(address.trim())) {
      problems.push(`${where} (${name}): the address must be the Ray dashboard's http(s)://host:port`);
      return;
    }
    if (names.has(name.trim())) {
      problems.push(`${where}: the name ${name} is used twice`);
      return;
    }
    names.add(name.trim());
    targets.push({ name: name.trim(), address: address.trim().replace(/\/$/, "") });
  });
  return { targets, problems };
}
