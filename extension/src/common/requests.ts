// The one way the extension sends a custom request: the method names its params and result in
// the generated `RequestTypes`, so a wrong field name or type fails `tsc`, not the server.
import * as vscode from "vscode";
import type { LanguageClient } from "vscode-languageclient/node";
import type { RequestTypes } from "../protocol";
import type { ServerManager } from "./serverManager";

export type RequestMethod = keyof RequestTypes;
export type RequestParams<M extends RequestMethod> = RequestTypes[M]["params"];
export type RequestResult<M extends RequestMethod> = RequestTypes[M]["result"];

/** What `request` needs of the language client. */
export type RequestClient = Pick<LanguageClient, "sendRequest">;

/**
 * Sends `method` with `params` and resolves to its result. Errors are the client's own: an LSP
 * error keeps its `code` (ErrorCodes), `message` and `data` for the caller to act on.
 */
export function request<M extends RequestMethod>(
  client: RequestClient,
  method: M,
  params: RequestParams<M>,
): Promise<RequestResult<M>> {
  return client.sendRequest<RequestResult<M>>(method, params);
}

/** A running server's client and the workspace folder a request is about. */
export interface WorkspaceClient {
  client: RequestClient;
  workspaceUri: string;
}

/** The running server's client and the first workspace folder's URI, or undefined while either is missing. */
export function workspaceClient(servers: ServerManager): WorkspaceClient | undefined {
  const client = servers.languageClient;
  const folder = vscode.workspace.workspaceFolders?.[0];
  return client && folder ? { client, workspaceUri: folder.uri.toString() } : undefined;
}
