// One output channel for the whole extension; every part logs through these helpers so the
// "Show Log" action always shows the full story (server stderr included).
import * as vscode from "vscode";

let channel: vscode.LogOutputChannel | undefined;

export function createLog(): vscode.LogOutputChannel {
  channel = vscode.window.createOutputChannel("ML Workbench", { log: true });
  return channel;
}

export function traceInfo(message: string): void {
  channel?.info(message);
}

export function traceError(message: string, error?: unknown): void {
  const detail =
    error === undefined
      ? ""
      : `: ${error instanceof Error ? error.message : typeof error === "string" ? error : JSON.stringify(error)}`;
  channel?.error(`${message}${detail}`);
}

export function showLog(): void {
  channel?.show(true);
}
