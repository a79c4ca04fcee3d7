// Read-only documents the deploy commands write into: a container's logs and the answer to a test
// request. One content provider with its own scheme; showing a document again replaces its text
// (an open editor updates in place), so each send or log refresh lands in the same tab.
import * as vscode from "vscode";

export const DEPLOY_SCHEME = "mlworkbench-deploy";

export class DeployDocuments implements vscode.TextDocumentContentProvider, vscode.Disposable {
  private readonly texts = new Map<string, string>();
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.changed.event;
  private readonly registration: vscode.Disposable;
  private readonly closing: vscode.Disposable;

  constructor() {
    this.registration = vscode.workspace.registerTextDocumentContentProvider(DEPLOY_SCHEME, this);
    this.closing = vscode.workspace.onDidCloseTextDocument((document) => {
      if (document.uri.scheme === DEPLOY_SCHEME) {
        this.texts.delete(document.uri.toString());
      }
    });
  }

  /** A URI for `kind` ("logs", "response") named after `name`, with `extension` for its language. */
  uriOf(kind: string, name: string, extension: string): vscode.Uri {
    const safe = name.replace(/[^\w.-]+/g, "-") || "container";
    return vscode.Uri.from({ scheme: DEPLOY_SCHEME, path: `/${kind}/${safe}.${extension}` });
  }

  provideTextDocumentContent(uri: vscode.Uri): string {
    return this.texts.get(uri.toString()) ?? "";
  }

  /** Sets the document's text and shows it (beside the active editor when `beside`). */
  async show(uri: vscode.Uri, text: string, beside: boolean): Promise<void> {
    this.texts.set(uri.toString(), text);
    this.changed.fire(uri);
    const document = await vscode.workspace.openTextDocument(uri);
    await vscode.window.showTextDocument(document, {
      viewColumn: beside ? vscode.ViewColumn.Beside : vscode.ViewColumn.Active,
      preserveFocus: beside,
      preview: false,
    });
  }

  dispose(): void {
    this.registration.dispose();
    this.closing.dispose();
    this.changed.dispose();
    this.texts.clear();
  }
}
