// The live metrics panel: one webview per training run that plots each metric as it is logged.
// The panel keeps every point of the run (in a LiveMetricsFeed) and replays them whenever the
// webview says `ready` (first load, and each reload after the panel was hidden), so the webview
// holds no state that matters. Rendering lives in media/liveMetrics/; messages follow
// webview/contract.ts.
import * as vscode from "vscode";
import { traceError } from "../common/log";
import { Webviews } from "../protocol";
import { ExtensionMessage, MetricPoint, RunStatus, WebviewMessageType, isLiveMetricsState, isWebviewMessage } from "../webview/contract";
import { LiveMetricsFeed } from "./liveMetricsFeed";
import { csvFileName, formatMetricsCsv } from "../webview/metricFormat";
import { bundlePageHtml, webviewPanelOptions } from "../webview/webviewPage";

export class LiveMetricsPanel {
  static readonly viewType = Webviews.LIVE_METRICS;
  private static readonly panels = new Map<string, LiveMetricsPanel>();

  private readonly feed: LiveMetricsFeed;
  private readonly disposables: vscode.Disposable[] = [];
  private readonly disposed = new vscode.EventEmitter<void>();
  readonly onDidDispose = this.disposed.event;

  /** Shows the run's panel, creating it beside the active editor if it is not open. */
  static createOrShow(extensionUri: vscode.Uri, runId: string, title: string): LiveMetricsPanel {
    const existing = LiveMetricsPanel.panels.get(runId);
    if (existing) {
      existing.panel.reveal(undefined, true);
      return existing;
    }
    const panel = vscode.window.createWebviewPanel(
      LiveMetricsPanel.viewType,
      panelTitle(title),
      { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true },
      webviewPanelOptions(extensionUri),
    );
    return new LiveMetricsPanel(panel, extensionUri, runId, title);
  }

  static get(runId: string): LiveMetricsPanel | undefined {
    return LiveMetricsPanel.panels.get(runId);
  }

  /**
   * Takes over a panel VS Code restored after a reload (register `liveMetricsSerializer`).
   * Its points are gone with the old extension host: feed it the run's history with addPoints.
   */
  static revive(panel: vscode.WebviewPanel, extensionUri: vscode.Uri, runId: string, title: string): LiveMetricsPanel {
    LiveMetricsPanel.panels.get(runId)?.dispose();
    panel.webview.options = webviewPanelOptions(extensionUri);
    return new LiveMetricsPanel(panel, extensionUri, runId, title);
  }

  private constructor(
    private readonly panel: vscode.WebviewPanel,
    extensionUri: vscode.Uri,
    readonly runId: string,
    readonly title: string,
  ) {
    this.feed = new LiveMetricsFeed(runId, title, (message) => this.post(message));
    LiveMetricsPanel.panels.set(runId, this);
    panel.title = panelTitle(title);
    // The page carries its Content-Security-Policy (default-src 'none', nonce'd script, no
    // remote resources): webview/html.ts is the one place webview HTML is written.
    panel.webview.html = bundlePageHtml(panel.webview, extensionUri, "liveMetrics", "Live metrics");
    this.disposables.push(
      this.disposed,
      panel.onDidDispose(() => this.dispose()),
      panel.onDidChangeViewState(() => {
        if (!panel.visible) {
          this.feed.webviewGone(); // its document is torn down; it says `ready` when back
        }
      }),
      panel.webview.onDidReceiveMessage((message: unknown) => this.onMessage(message)),
    );
  }

  /** Plots these points; before the webview is ready they wait, and none is ever dropped. */
  addPoints(points: readonly MetricPoint[]): void {
    this.feed.addPoints(points);
  }

  setStatus(status: RunStatus, detail?: string): void {
    this.feed.setStatus(status, detail);
  }

  reveal(): void {
    this.panel.reveal(undefined, true);
  }

  dispose(): void {
    if (LiveMetricsPanel.panels.get(this.runId) !== this) {
      return; // already disposed (panel.dispose() fires onDidDispose again)
    }
    LiveMetricsPanel.panels.delete(this.runId);
    this.disposed.fire();
    this.panel.dispose();
    while (this.disposables.length > 0) {
      this.disposables.pop()?.dispose();
    }
  }

  private onMessage(message: unknown): void {
    if (!isWebviewMessage(message)) {
      traceError(`Live metrics: ignored an unexpected message from the webview of run ${this.runId}`);
      return;
    }
    switch (message.type) {
      case WebviewMessageType.READY:
        this.feed.webviewReady();
        break;
      case WebviewMessageType.EXPORT_CSV:
        void this.exportCsv();
        break;
    }
  }

  private post(message: ExtensionMessage): void {
    // A hidden webview drops messages (postMessage resolves false); its next `ready` replays.
    void this.panel.webview.postMessage(message).then(undefined, (error: unknown) => {
      traceError(`Live metrics: could not post to the webview of run ${this.runId}`, error);
    });
  }

  private async exportCsv(): Promise<void> {
    const folder = vscode.workspace.workspaceFolders?.[0]?.uri;
    const name = csvFileName(this.title);
    const target = await vscode.window.showSaveDialog({
      defaultUri: folder ? vscode.Uri.joinPath(folder, name) : undefined,
      filters: { CSV: ["csv"] },
      saveLabel: "Export metrics",
      title: `Export the metrics of ${this.title}`,
    });
    if (!target) {
      return;
    }
    try {
      await vscode.workspace.fs.writeFile(target, new TextEncoder().encode(formatMetricsCsv(this.feed.points)));
    } catch (error) {
      traceError(`Live metrics: could not write ${target.fsPath}`, error);
      void vscode.window.showErrorMessage(`ML Workbench: could not export the metrics to ${target.fsPath}.`);
    }
  }
}

function panelTitle(title: string): string {
  return `Metrics: ${title}`;
}

/**
 * Restores live metrics panels after a window reload. Register it in activation with
 * `vscode.window.registerWebviewPanelSerializer(LiveMetricsPanel.viewType, ...)`, and add the
 * `onWebviewPanel:mlWorkbench.liveMetrics` activation event.
 */
export function liveMetricsSerializer(
  extensionUri: vscode.Uri,
  onRevive?: (panel: LiveMetricsPanel) => void,
): vscode.WebviewPanelSerializer {
  return {
    deserializeWebviewPanel(panel: vscode.WebviewPanel, state: unknown): Promise<void> {
      // The state comes from the webview's setState: check it like any other webview input.
      if (!isLiveMetricsState(state)) {
        panel.dispose();
        return Promise.resolve();
      }
      const revived = LiveMetricsPanel.revive(panel, extensionUri, state.runId, state.title);
      onRevive?.(revived);
      return Promise.resolve();
    },
  };
}
