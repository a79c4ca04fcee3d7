// The API VS Code injects into every webview, typed for the Compare panel's messages and state.
import type { CompareViewState, CompareWebviewMessage } from "../../extension/src/compare/compareContract";

export interface CompareVsCodeApi {
  postMessage(message: CompareWebviewMessage): void;
  getState(): unknown;
  setState(state: CompareViewState): void;
}

declare function acquireVsCodeApi(): CompareVsCodeApi;

/** May be called once per page load, so main.ts calls it and passes the result around. */
export function vscodeApi(): CompareVsCodeApi {
  return acquireVsCodeApi();
}
