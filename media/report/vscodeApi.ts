// The API VS Code injects into every webview, typed for the Report panel's messages and state.
import type { ReportViewState, ReportWebviewMessage } from "../../extension/src/reports/reportContract";

export interface ReportVsCodeApi {
  postMessage(message: ReportWebviewMessage): void;
  getState(): unknown;
  setState(state: ReportViewState): void;
}

declare function acquireVsCodeApi(): ReportVsCodeApi;

/** May be called once per page load, so main.ts calls it and passes the result around. */
export function vscodeApi(): ReportVsCodeApi {
  return acquireVsCodeApi();
}
