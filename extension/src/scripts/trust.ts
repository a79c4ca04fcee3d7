// The single gate in front of everything that executes workspace code.
import * as vscode from "vscode";

export async function ensureTrusted(action: string): Promise<boolean> {
  if (vscode.workspace.isTrusted) {
    return true;
  }
  const choice = await vscode.window.showWarningMessage(
    `ML Workbench runs nothing in Restricted Mode, so it cannot ${action}. Trust this workspace to run training scripts.`,
    "Manage Workspace Trust",
  );
  if (choice) {
    await vscode.commands.executeCommand("workbench.trust.manage");
  }
  return false;
}
