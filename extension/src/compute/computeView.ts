// The Compute view: this machine, the workbench's local Ray cluster, the Ray clusters of the
// machine setting `mlWorkbench.computeTargets`, and the workspace's tracking server, each with
// its state from listComputeTargets (reachable, nodes, CPUs/GPUs, or why not). It asks again
// when the view is refreshed, after Start/Stop, when the setting changes and when the server
// restarts — never on a timer. How rows look is in computeItems.ts.
import * as vscode from "vscode";
import { traceError } from "../common/log";
import { request, workspaceClient } from "../common/requests";
import type { ServerManager } from "../common/serverManager";
import { type ListComputeTargetsResult, Requests } from "../protocol";
import { type ComputeNode, itemSpec, parseTargetSettings, rootNodes } from "./computeItems";

/** The machine setting's usable entries (VS Code ignores it in workspace settings: a repository
 * cannot name where its code is sent) and what is wrong with the rest. */
export function computeTargetSettings(): ReturnType<typeof parseTargetSettings> {
  return parseTargetSettings(vscode.workspace.getConfiguration("mlWorkbench").get<unknown>("computeTargets"));
}

export class ComputeTreeProvider implements vscode.TreeDataProvider<ComputeNode>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<ComputeNode | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private result: ListComputeTargetsResult | undefined;
  private fresh = false;

  constructor(private readonly servers: ServerManager) {}

  refresh(): void {
    this.changed.fire(undefined);
  }

  /** A fresh listing for pickers (Run on…); the view redraws from it too. */
  async list(): Promise<ListComputeTargetsResult> {
    const target = workspaceClient(this.servers);
    if (!target) {
      throw new Error("the server is not running yet (see ML Workbench: Show Log)");
    }
    const result = await request(target.client, Requests.LIST_COMPUTE_TARGETS, {
      workspaceUri: target.workspaceUri,
      targets: computeTargetSettings().targets,
    });
    this.result = result;
    this.fresh = true;
    this.refresh();
    return result;
  }

  getTreeItem(node: ComputeNode): vscode.TreeItem {
    const spec = itemSpec(node);
    const item = new vscode.TreeItem(spec.label, vscode.TreeItemCollapsibleState.None);
    item.id = spec.id;
    item.description = spec.description;
    item.tooltip = spec.tooltip;
    item.contextValue = spec.contextValue;
    item.iconPath = new vscode.ThemeIcon(spec.icon.id, spec.icon.color ? new vscode.ThemeColor(spec.icon.color) : undefined);
    item.accessibilityInformation = { label: spec.accessibilityLabel };
    return item;
  }

  async getChildren(node?: ComputeNode): Promise<ComputeNode[]> {
    if (node) {
      return [];
    }
    const target = workspaceClient(this.servers);
    if (!target) {
      return []; // the welcome text shows; onReady refreshes the view
    }
    const { targets, problems } = computeTargetSettings();
    try {
      if (!this.fresh || !this.result) {
        this.result = await request(target.client, Requests.LIST_COMPUTE_TARGETS, { workspaceUri: target.workspaceUri, targets });
      }
      this.fresh = false;
    } catch (error) {
      traceError("Listing compute targets failed", error);
      this.result = undefined;
      const text = error instanceof Error ? error.message : String((error as { message?: unknown })?.message ?? error);
      return [{ kind: "message", text, icon: "error" }];
    }
    return [...rootNodes(this.result), ...problems.map((text): ComputeNode => ({ kind: "message", text, icon: "warning" }))];
  }

  dispose(): void {
    this.changed.dispose();
  }
}
