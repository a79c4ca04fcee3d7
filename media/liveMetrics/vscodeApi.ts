// The API VS Code injects into every webview, typed for this panel's messages and state.
import type { LiveMetricsState, WebviewMessage } from "../../extension/src/webview/contract";

export interface VsCodeApi {
  postMessage(message: WebviewMessage): void;
  getState(): unknown;
  setState(state: LiveMetricsState): void;
}

declare function acquireVsCodeApi(): VsCodeApi;

/** May be called once per page load, so main.ts calls it and passes the result around. */
export function vscodeApi(): VsCodeApi {
  return acquireVsCodeApi();
}
