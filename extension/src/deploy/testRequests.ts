// Test requests to a running container: New Test Request opens an untitled JSON document with a
// sample /invocations body (sampleRequest) bound to that container; Send Test Request (the play
// button on that editor's title, shown through the testRequestActive context key) sends the
// document's current text through invokeContainer and shows the answer beside it.
import * as vscode from "vscode";
import { request, type WorkspaceClient } from "../common/requests";
import { type ContainerEntry, ContextKeys, Requests } from "../protocol";
import type { DeployDocuments } from "./deployDocuments";
import { formatResponse } from "./deployFormat";

interface BoundContainer {
  id: string;
  name: string;
  url?: string;
}

export class TestRequests implements vscode.Disposable {
  /** Untitled document URI -> the container its text is sent to. */
  private readonly bound = new Map<string, BoundContainer>();
  private readonly subscriptions: vscode.Disposable[];

  constructor(private readonly documents: DeployDocuments) {
    this.subscriptions = [
      vscode.window.onDidChangeActiveTextEditor((editor) => void this.updateContext(editor)),
      vscode.workspace.onDidCloseTextDocument((document) => {
        this.bound.delete(document.uri.toString());
      }),
    ];
    void this.updateContext(vscode.window.activeTextEditor);
  }

  /** Opens a sample request for `container` for the user to edit and send. */
  async open(target: WorkspaceClient, container: ContainerEntry): Promise<void> {
    const sample = await request(target.client, Requests.SAMPLE_REQUEST, { workspaceUri: target.workspaceUri, containerId: container.id });
    const document = await vscode.workspace.openTextDocument({ language: "json", content: sample.body });
    this.bound.set(document.uri.toString(), { id: container.id, name: container.name, url: container.url });
    await vscode.window.showTextDocument(document, { preview: false });
    await this.updateContext(vscode.window.activeTextEditor);
    if (sample.source === "none") {
      void vscode.window.showInformationMessage(
        `ML Workbench: the model of ${container.name} has no input example or signature, so the sample is only a skeleton: fill in its rows, then press Send (\u25b7).`,
      );
    } else {
      vscode.window.setStatusBarMessage(`Edit the request, then Send Test Request (\u25b7 in the editor title) to ${container.name}.`, 8000);
    }
  }

  /** The container the active editor's document is bound to, if it is a test request. */
  activeBinding(): { document: vscode.TextDocument; container: BoundContainer } | undefined {
    const document = vscode.window.activeTextEditor?.document;
    const container = document ? this.bound.get(document.uri.toString()) : undefined;
    return document && container ? { document, container } : undefined;
  }

  /** Sends the document's current text and shows the container's answer beside it. */
  async send(target: WorkspaceClient, document: vscode.TextDocument, container: BoundContainer): Promise<void> {
    const result = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Window, title: `Sending a test request to ${container.name}` },
      () => request(target.client, Requests.INVOKE_CONTAINER, { containerId: container.id, body: document.getText() }),
    );
    // A 4xx is an answer, not a failure: shown the same way, with the container's reason.
    const text = formatResponse(result, container, new Date());
    await this.documents.show(this.documents.uriOf("response", container.name, "jsonc"), text, true);
  }

  private async updateContext(editor: vscode.TextEditor | undefined): Promise<void> {
    const active = editor !== undefined && this.bound.has(editor.document.uri.toString());
    await vscode.commands.executeCommand("setContext", ContextKeys.TEST_REQUEST_ACTIVE, active);
  }

  dispose(): void {
    for (const subscription of this.subscriptions) {
      subscription.dispose();
    }
    this.bound.clear();
  }
}
