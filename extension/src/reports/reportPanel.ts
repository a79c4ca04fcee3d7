// The Report panel: one webview per report (a run's `reports/<name>.json`, or a document not
// logged anywhere), revealed again when the same report is opened twice. The panel owns the
// loading and keeps the last thing it has to show (loading, the document, or an error),
// replaying it whenever the webview says `ready`, so the webview holds no state that matters and
// needs no retainContextWhenHidden. Rendering lives in media/report/; messages follow
// reportContract.ts.
import * as vscode from "vscode";
import { traceError, traceInfo } from "../common/log";
import { Webviews } from "../protocol";
import { bundlePageHtml, webviewPanelOptions } from "../webview/webviewPage";
import {
  isReportDocument,
  isReportWebviewMessage,
  type RenderTiming,
  type ReportDocument,
  type ReportHostMessage,
  ReportHostMessageType,
  ReportWebviewMessageType,
} from "./reportContract";

/** Which report a panel shows: a run's logged report, or (runId null) a document of its own. */
export interface ReportSource {
  runId: string | null;
  /** The file's stem under the run's `reports/` ("fairness"), or a name for an unlogged one. */
  name: string;
}

/** What the panel asks of the rest of the extension. */
export interface ReportPanelHost {
  /** Fetches the document (readReport), or resolves to the one just made. */
  load(source: ReportSource): Promise<ReportDocument>;
  exportHtml(source: ReportSource, document: ReportDocument): Promise<void>;
  openJson(source: ReportSource, document: ReportDocument): Promise<void>;
}

/** The panel's key: one panel per report. */
export function reportKey(source: ReportSource): string {
  return `${source.runId ?? "-"}/${source.name}`;
}

export class ReportPanel {
  static readonly viewType = Webviews.REPORT;
  private static readonly panels = new Map<string, ReportPanel>();

  private shown: ReportHostMessage;
  /** When the panel opened, until the webview reported its first paint. */
  private openedAt: number | null;
  /** Bumped by every load, so a slow answer for an older load is thrown away. */
  private generation = 0;
  /**
   * Whether the page listens: from its `ready` until it is hidden (a hidden webview is torn
   * down). Messages wait for it, so a document is posted once, not also before the page listens.
   */
  private listening = false;
  private readonly disposables: vscode.Disposable[] = [];

  /**
   * Shows the panel of `source` (creating it if needed) and loads it with `host.load`; a panel
   * already open is revealed and loaded again (a report made again replaces the file).
   */
  static show(extensionUri: vscode.Uri, source: ReportSource, title: string, host: ReportPanelHost): ReportPanel {
    const key = reportKey(source);
    let panel = ReportPanel.panels.get(key);
    if (panel === undefined) {
      const webviewPanel = vscode.window.createWebviewPanel(
        ReportPanel.viewType,
        title,
        { viewColumn: vscode.ViewColumn.Active, preserveFocus: false },
        webviewPanelOptions(extensionUri),
      );
      panel = new ReportPanel(webviewPanel, extensionUri, source, title, host);
      ReportPanel.panels.set(key, panel);
    } else {
      panel.host = host;
      panel.panel.reveal(undefined, false);
    }
    void panel.load();
    return panel;
  }

  private constructor(
    private readonly panel: vscode.WebviewPanel,
    extensionUri: vscode.Uri,
    private readonly source: ReportSource,
    title: string,
    private host: ReportPanelHost,
  ) {
    this.openedAt = Date.now();
    this.shown = { type: ReportHostMessageType.LOADING, title };
    // The page carries its Content-Security-Policy (default-src 'none', nonce'd script, no
    // remote resources): webview/html.ts is the one place webview HTML is written.
    panel.webview.html = bundlePageHtml(panel.webview, extensionUri, "report", "Report");
    this.disposables.push(
      panel.onDidDispose(() => this.dispose()),
      panel.webview.onDidReceiveMessage((message: unknown) => this.onMessage(message)),
      panel.onDidChangeViewState(() => {
        if (!panel.visible) {
          this.listening = false;
        }
      }),
    );
  }

  dispose(): void {
    const key = reportKey(this.source);
    if (ReportPanel.panels.get(key) !== this) {
      return; // already disposed (panel.dispose() fires onDidDispose again)
    }
    ReportPanel.panels.delete(key);
    this.generation += 1; // a load still running has nowhere to go
    this.panel.dispose();
    while (this.disposables.length > 0) {
      this.disposables.pop()?.dispose();
    }
  }

  private async load(): Promise<void> {
    const generation = ++this.generation;
    if (this.shown.type !== ReportHostMessageType.DOCUMENT) {
      this.show({ type: ReportHostMessageType.LOADING, title: this.panel.title });
    }
    let message: ReportHostMessage;
    try {
      const document = await this.host.load(this.source);
      if (isReportDocument(document)) {
        this.panel.title = document.title;
        message = { type: ReportHostMessageType.DOCUMENT, document, logged: this.source.runId !== null, openedAt: this.openedAt };
      } else {
        message = {
          type: ReportHostMessageType.ERROR,
          message: "This report is not in a shape this version of ML Workbench can show. Open its JSON to read it.",
          retryable: false,
        };
      }
    } catch (error) {
      traceError(`Report: could not load ${reportKey(this.source)}`, error);
      message = { type: ReportHostMessageType.ERROR, message: errorText(error), retryable: true };
    }
    if (generation === this.generation) {
      this.show(message);
    }
  }

  private show(message: ReportHostMessage): void {
    this.shown = message;
    if (!this.listening) {
      return; // the page's `ready` replays it
    }
    // A hidden webview drops messages (postMessage resolves false); its next `ready` replays.
    void this.panel.webview.postMessage(message).then(undefined, (error: unknown) => {
      traceError("Report: could not post to the webview", error);
    });
  }

  private onMessage(message: unknown): void {
    if (!isReportWebviewMessage(message)) {
      traceError("Report: ignored an unexpected message from the webview");
      return;
    }
    const shown = this.shown;
    switch (message.type) {
      case ReportWebviewMessageType.READY:
        this.listening = true;
        this.show(shown);
        break;
      case ReportWebviewMessageType.RETRY:
        if (shown.type === ReportHostMessageType.ERROR && shown.retryable) {
          void this.load();
        }
        break;
      case ReportWebviewMessageType.EXPORT_HTML:
        if (shown.type === ReportHostMessageType.DOCUMENT) {
          void this.host.exportHtml(this.source, shown.document).catch((error: unknown) => this.failed("export the report", error));
        }
        break;
      case ReportWebviewMessageType.OPEN_JSON:
        if (shown.type === ReportHostMessageType.DOCUMENT) {
          void this.host.openJson(this.source, shown.document).catch((error: unknown) => this.failed("open the report's JSON", error));
        }
        break;
      case ReportWebviewMessageType.RENDERED:
        this.rendered(message.timing);
        break;
    }
  }

  /** The first paint is measured once per panel; later replays (a hidden panel shown again) are not. */
  private rendered(timing: RenderTiming): void {
    if (this.openedAt === null) {
      return;
    }
    this.openedAt = null;
    if (this.shown.type === ReportHostMessageType.DOCUMENT) {
      this.shown = { ...this.shown, openedAt: null };
    }
    const ms = (value: number): string => `${Math.round(value)} ms`;
    traceInfo(
      `Report ${reportKey(this.source)}: first paint ${ms(timing.firstPaintMs)} after the panel opened, ` +
        `charts drawn at ${ms(timing.completeMs)}; in the page: script ready ${ms(timing.readyMs)}, ` +
        `document in ${ms(timing.documentMs)}, painted ${ms(timing.pageMs)}`,
    );
  }

  private failed(what: string, error: unknown): void {
    traceError(`Report: could not ${what}`, error);
    void vscode.window.showErrorMessage(`ML Workbench: could not ${what}: ${errorText(error)}`);
  }
}

/** The server's message (a typed LSP error carries one a user can act on), else a generic one. */
function errorText(error: unknown): string {
  const text = error instanceof Error ? error.message.trim() : "";
  return text !== "" ? text : "The report could not be loaded.";
}
