// The status bar item that shows the server's state; clicking it shows the log.
import * as vscode from "vscode";
import { Commands, StatusItems } from "../protocol";

export type ServerState = "starting" | "ready" | "restarting" | "error" | "stopped";

const ICONS: Record<ServerState, string> = {
  starting: "$(loading~spin)",
  ready: "$(beaker)",
  restarting: "$(loading~spin)",
  error: "$(error)",
  stopped: "$(circle-slash)",
};

export class ServerStatusBar implements vscode.Disposable {
  private readonly item: vscode.StatusBarItem;

  constructor() {
    this.item = vscode.window.createStatusBarItem(StatusItems.SERVER, vscode.StatusBarAlignment.Left, 10);
    this.item.name = "ML Workbench server";
    this.item.command = Commands.SHOW_LOG;
    this.set("starting", "Starting the ML Workbench server…");
    this.item.show();
  }

  set(state: ServerState, detail: string): void {
    this.item.text = `${ICONS[state]} ML Workbench: ${state}`;
    this.item.tooltip = new vscode.MarkdownString(`**ML Workbench** — ${state}\n\n${detail}\n\nClick to show the log.`);
    this.item.backgroundColor =
      state === "error" ? new vscode.ThemeColor("statusBarItem.errorBackground") : undefined;
  }

  dispose(): void {
    this.item.dispose();
  }
}
