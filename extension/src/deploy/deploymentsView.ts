// The Deployments view: the workbench's images and containers from listDeployments, or one help
// row when the Docker engine cannot be reached. It looks again after every action, when the
// server restarts, and every few seconds only while a container is still starting (its health
// check has not answered yet) — never otherwise. How rows look is in deploymentItems.ts.
import * as vscode from "vscode";
import { traceError } from "../common/log";
import { request, workspaceClient } from "../common/requests";
import type { ServerManager } from "../common/serverManager";
import { type ContainerEntry, type ImageEntry, type ListDeploymentsResult, Requests } from "../protocol";
import { type DeploymentsNode, isStarting, itemSpec, rootNodes, sectionNodes } from "./deploymentItems";

/** How often the view looks again while a container's health check is starting. */
const STARTING_POLL_MS = 2_000;

export class DeploymentsTreeProvider implements vscode.TreeDataProvider<DeploymentsNode>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<DeploymentsNode | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private result: ListDeploymentsResult | undefined;
  private poll: NodeJS.Timeout | undefined;
  /** A listing `list()` just fetched: the redraw it asks for uses it instead of asking again. */
  private fresh = false;

  constructor(private readonly servers: ServerManager) {}

  refresh(): void {
    this.stopPolling();
    this.changed.fire(undefined);
  }

  /** The last listing the view showed (undefined before the first). */
  get last(): ListDeploymentsResult | undefined {
    return this.result;
  }

  /** A fresh listing, for pickers; the view redraws from it too. */
  async list(): Promise<ListDeploymentsResult> {
    const target = workspaceClient(this.servers);
    if (!target) {
      throw new Error("the server is not running yet (see ML Workbench: Show Log)");
    }
    const result = await request(target.client, Requests.LIST_DEPLOYMENTS, {});
    this.result = result;
    this.fresh = true;
    this.refresh();
    return result;
  }

  async images(): Promise<ImageEntry[]> {
    return (await this.list()).images;
  }

  async containers(): Promise<ContainerEntry[]> {
    return (await this.list()).containers;
  }

  getTreeItem(node: DeploymentsNode): vscode.TreeItem {
    const spec = itemSpec(node);
    const state =
      spec.expanded === undefined
        ? vscode.TreeItemCollapsibleState.None
        : spec.expanded
          ? vscode.TreeItemCollapsibleState.Expanded
          : vscode.TreeItemCollapsibleState.Collapsed;
    const item = new vscode.TreeItem(spec.label, state);
    item.id = spec.id;
    item.description = spec.description;
    item.tooltip = spec.tooltip;
    item.contextValue = spec.contextValue;
    item.iconPath = new vscode.ThemeIcon(spec.icon.id, spec.icon.color ? new vscode.ThemeColor(spec.icon.color) : undefined);
    if (spec.accessibilityLabel) {
      item.accessibilityInformation = { label: spec.accessibilityLabel };
    }
    if (spec.opens) {
      // Only on a click: VS Code's opener sends an https address to the browser.
      item.command = { command: "vscode.open", title: "Open Docker's Documentation", arguments: [vscode.Uri.parse(spec.opens)] };
    }
    return item;
  }

  async getChildren(node?: DeploymentsNode): Promise<DeploymentsNode[]> {
    if (node?.kind === "section") {
      return this.result ? sectionNodes(this.result, node.section) : [];
    }
    if (node) {
      return [];
    }
    const target = workspaceClient(this.servers);
    if (!target) {
      return []; // the welcome text shows; onReady refreshes the view
    }
    try {
      if (!this.fresh || !this.result) {
        this.result = await request(target.client, Requests.LIST_DEPLOYMENTS, {});
      }
      this.fresh = false;
    } catch (error) {
      traceError("Listing deployments failed", error);
      this.result = undefined;
      const text = error instanceof Error ? error.message : String((error as { message?: unknown })?.message ?? error);
      return [{ kind: "message", text, icon: "error" }];
    }
    this.schedulePoll();
    return rootNodes(this.result);
  }

  private schedulePoll(): void {
    this.stopPolling();
    if (isStarting(this.result)) {
      this.poll = setTimeout(() => {
        this.poll = undefined;
        this.changed.fire(undefined);
      }, STARTING_POLL_MS);
    }
  }

  private stopPolling(): void {
    if (this.poll) {
      clearTimeout(this.poll);
      this.poll = undefined;
    }
  }

  dispose(): void {
    this.stopPolling();
    this.changed.dispose();
  }
}
