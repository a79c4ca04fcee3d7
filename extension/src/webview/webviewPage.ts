// Turns a bundle under media/dist/ into a webview page: options that confine the webview to
// media/, and the HTML shell from html.ts with this webview's URIs and a fresh nonce.
import * as vscode from "vscode";
import { buildWebviewHtml, createNonce } from "./html";

export function webviewPanelOptions(extensionUri: vscode.Uri): vscode.WebviewPanelOptions & vscode.WebviewOptions {
  return {
    enableScripts: true,
    // A hidden panel is torn down; on return its script says `ready` and the extension replays.
    retainContextWhenHidden: false,
    localResourceRoots: [vscode.Uri.joinPath(extensionUri, "media")],
  };
}

/** The page for `media/dist/<bundle>.js` and `<bundle>.css`, as built by esbuild.mjs. */
export function bundlePageHtml(webview: vscode.Webview, extensionUri: vscode.Uri, bundle: string, title: string): string {
  const dist = vscode.Uri.joinPath(extensionUri, "media", "dist");
  return buildWebviewHtml({
    cspSource: webview.cspSource,
    nonce: createNonce(),
    scriptUri: webview.asWebviewUri(vscode.Uri.joinPath(dist, `${bundle}.js`)).toString(),
    styleUris: [webview.asWebviewUri(vscode.Uri.joinPath(dist, `${bundle}.css`)).toString()],
    title,
  });
}
