// Typed access to the extension's settings; the names match package.json's contributes.
import * as vscode from "vscode";

export interface WorkbenchSettings {
  /** Interpreter path from settings; "" when unset. Ignored from workspace in Restricted Mode. */
  python: string;
  serverExtraEnv: Record<string, string>;
  setupExtras: string[];
  showLiveMetrics: boolean;
  /** Start runs from a warm pool (MLflow and the script's frameworks already imported). */
  warmPool: boolean;
  /** MLflow tracking URI for runs; "" = MLFLOW_TRACKING_URI or the workspace's mlflow.db. */
  trackingUri: string;
}

export function readSettings(scope?: vscode.ConfigurationScope): WorkbenchSettings {
  const config = vscode.workspace.getConfiguration("mlWorkbench", scope);
  return {
    python: config.get<string>("python", "").trim(),
    serverExtraEnv: config.get<Record<string, string>>("server.extraEnv", {}),
    setupExtras: config.get<string[]>("setup.extras", ["tracking", "sklearn"]),
    showLiveMetrics: config.get<boolean>("runs.showLiveMetrics", true),
    warmPool: config.get<boolean>("runs.warmPool", true),
    trackingUri: config.get<string>("trackingUri", "").trim(),
  };
}

export function affectsServer(event: vscode.ConfigurationChangeEvent): boolean {
  return (
    event.affectsConfiguration("mlWorkbench.python") ||
    event.affectsConfiguration("mlWorkbench.trackingUri") ||
    event.affectsConfiguration("mlWorkbench.runs.warmPool") ||
    event.affectsConfiguration("mlWorkbench.server") ||
    event.affectsConfiguration("mlWorkbench.trace")
  );
}
