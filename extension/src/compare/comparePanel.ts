// The Compare panel: one webview that sets 2 to 100+ runs side by side (params table, metric
// curves, metric-vs-param scatter, parallel coordinates). The panel owns the loading and keeps
// the last thing it has to show (loading, the data, or an error), replaying it whenever the
// webview says `ready`, so the webview holds no state that matters and needs no
// retainContextWhenHidden. Rendering lives in media/compare/; messages follow
// webview/compareContract.ts.
import * as vscode from "vscode";
import { traceError } from "../common/log";
import { Webviews } from "../protocol";
import {
  type CompareDataWire,
  type CompareHostMessage,
  CompareHostMessageType,
  CompareWebviewMessageType,
  isCompareData,
  isCompareWebviewMessage,
} from "./compareContract";
import { COMPARE_CSV_FILE_NAME, formatCompareCsv } from "./compareCsv";
import { bundlePageHtml, webviewPanelOptions } from "../webview/webviewPage";

/** Fetches the compare data of these runs (the language server's `mlworkbench/compareRuns`). */
export type CompareLoader = (runIds: string[]) => Promise<CompareDataWire>;

export class ComparePanel {
  static readonly viewType = Webviews.COMPARE;
  private static current: ComparePanel | undefined;

  private runIds: string[] = [];
  private load: CompareLoader;
  /** What the webview shows; replayed on every `ready`. */
  private shown: CompareHostMessage = { type: CompareHostMessageType.LOADING, runCount: 0 };
  /** Bumped by every load, so a slow answer for an older selection is thrown away. */
  private generation = 0;
  private readonly disposables: vscode.Disposable[] = [];

  /** Shows the one Compare panel (creating it if needed) and loads these runs into it. */
  static show(extensionUri: vscode.Uri, runIds: readonly string[], load: CompareLoader): ComparePanel {
    let panel = ComparePanel.current;
    if (panel === undefined) {
      const webviewPanel = vscode.window.createWebviewPanel(
        ComparePanel.viewType,
        "Compare runs",
        { viewColumn: vscode.ViewColumn.Active, preserveFocus: false },
        webviewPanelOptions(extensionUri),
      );
      panel = new ComparePanel(webviewPanel, extensionUri, load);
    } else {
      panel.panel.reveal(undefined, false);
    }
    panel.load = load;
    void panel.compare(runIds);
    return panel;
  }

  private constructor(
    private readonly panel: vscode.WebviewPanel,
    extensionUri: vscode.Uri,
    load: CompareLoader,
  ) {
    this.load = load;
    ComparePanel.current = this;
    // The page carries its Content-Security-Policy (default-src 'none', nonce'd script, no
    // remote resources): webview/html.ts is the one place webview HTML is written.
    panel.webview.html = bundlePageHtml(panel.webview, extensionUri, "compare", "Compare runs");
    this.disposables.push(
      panel.onDidDispose(() => this.dispose()),
      panel.webview.onDidReceiveMessage((message: unknown) => this.onMessage(message)),
    );
  }

  dispose(): void {
    if (ComparePanel.current !== this) {
      return; // already disposed (panel.dispose() fires onDidDispose again)
    }
    ComparePanel.current = undefined;
    this.generation += 1; // a load still running has nowhere to go
    this.panel.dispose();
    while (this.disposables.length > 0) {
      this.disposables.pop()?.dispose();
    }
  }

  /** Loads `runIds` (duplicates dropped, order kept) and shows them, or the error, in the panel. */
  private async compare(runIds: readonly string[]): Promise<void> {
    this.runIds = [...new Set(runIds)];
    const generation = ++this.generation;
    const count = this.runIds.length;
    this.panel.title = `Compare ${count} run${count === 1 ? "" : "s"}`;
    if (count < 2) {
      this.show({ type: CompareHostMessageType.ERROR, message: "Select at least two runs to compare.", retryable: false });
      return;
    }
    this.show({ type: CompareHostMessageType.LOADING, runCount: count });
    let message: CompareHostMessage;
    try {
      const data = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: `ML Workbench: loading ${count} runs to compare\u2026` },
        () => this.load([...this.runIds]),
      );
      message = isCompareData(data)
        ? { type: CompareHostMessageType.DATA, data }
        : {
            type: CompareHostMessageType.ERROR,
            message: "The language server sent compare data this version of ML Workbench cannot read.",
            retryable: true,
          };
    } catch (error) {
      traceError(`Compare: could not load runs ${this.runIds.join(", ")}`, error);
      message = { type: CompareHostMessageType.ERROR, message: loadErrorText(error), retryable: true };
    }
    if (generation === this.generation) {
      this.show(message);
    }
  }

  private show(message: CompareHostMessage): void {
    this.shown = message;
    // A hidden webview drops messages (postMessage resolves false); its next `ready` replays.
    void this.panel.webview.postMessage(message).then(undefined, (error: unknown) => {
      traceError("Compare: could not post to the webview", error);
    });
  }

  private onMessage(message: unknown): void {
    if (!isCompareWebviewMessage(message)) {
      traceError("Compare: ignored an unexpected message from the webview");
      return;
    }
    switch (message.type) {
      case CompareWebviewMessageType.READY:
        this.show(this.shown);
        break;
      case CompareWebviewMessageType.RETRY:
        if (this.shown.type === CompareHostMessageType.ERROR && this.shown.retryable) {
          void this.compare(this.runIds);
        }
        break;
      case CompareWebviewMessageType.EXPORT_CSV:
        if (this.shown.type === CompareHostMessageType.DATA) {
          void this.exportCsv(this.shown.data);
        }
        break;
    }
  }

  private async exportCsv(data: CompareDataWire): Promise<void> {
    const folder = vscode.workspace.workspaceFolders?.[0]?.uri;
    const target = await vscode.window.showSaveDialog({
      defaultUri: folder ? vscode.Uri.joinPath(folder, COMPARE_CSV_FILE_NAME) : undefined,
      filters: { CSV: ["csv"] },
      saveLabel: "Export",
      title: `Export the params and metrics of ${data.runs.length} runs`,
    });
    if (!target) {
      return;
    }
    try {
      await vscode.workspace.fs.writeFile(target, new TextEncoder().encode(formatCompareCsv(data)));
    } catch (error) {
      traceError(`Compare: could not write ${target.fsPath}`, error);
      void vscode.window.showErrorMessage(`ML Workbench: could not export the comparison to ${target.fsPath}.`);
    }
  }
}

/** The server's message (a typed LSP error carries one a user can act on), else a generic one. */
function loadErrorText(error: unknown): string {
  const text = error instanceof Error ? error.message.trim() : "";
  return text !== "" ? text : "The runs could not be loaded.";
}

/**
 * Opens the Compare panel on these runs, or reloads the open one with them. `load` fetches the
 * data; its errors show in the panel with a Retry button.
 */
export function showComparePanel(extensionUri: vscode.Uri, runIds: string[], load: CompareLoader): void {
  ComparePanel.show(extensionUri, runIds, load);
}
