// Theme icons for run states; the same everywhere a run is shown.
import * as vscode from "vscode";

export function statusIcon(status: string): vscode.ThemeIcon {
  switch (status) {
    case "RUNNING":
      return new vscode.ThemeIcon("sync~spin", new vscode.ThemeColor("charts.blue"));
    case "FINISHED":
      return new vscode.ThemeIcon("pass", new vscode.ThemeColor("testing.iconPassed"));
    case "FAILED":
      return new vscode.ThemeIcon("error", new vscode.ThemeColor("testing.iconFailed"));
    case "KILLED":
      return new vscode.ThemeIcon("circle-slash", new vscode.ThemeColor("testing.iconSkipped"));
    default:
      return new vscode.ThemeIcon("circle-outline");
  }
}
