// Fans the server's run notifications out to the parts of the UI that care (terminals, tree,
// status bar, live metrics). Handlers are re-attached to each new language client, so a
// restarted server keeps feeding the same listeners.
import * as vscode from "vscode";
import { LanguageClient } from "vscode-languageclient/node";
import { Notifications, RunMetricsParams, RunOutputParams, RunStatusParams } from "../protocol";

export class RunEvents implements vscode.Disposable {
  private readonly output = new vscode.EventEmitter<RunOutputParams>();
  private readonly metrics = new vscode.EventEmitter<RunMetricsParams>();
  private readonly status = new vscode.EventEmitter<RunStatusParams>();
  readonly onOutput = this.output.event;
  readonly onMetrics = this.metrics.event;
  readonly onStatus = this.status.event;

  attach(client: LanguageClient): vscode.Disposable[] {
    return [
      client.onNotification(Notifications.RUN_OUTPUT, (p: RunOutputParams) => this.output.fire(p)),
      client.onNotification(Notifications.RUN_METRICS, (p: RunMetricsParams) => this.metrics.fire(p)),
      client.onNotification(Notifications.RUN_STATUS, (p: RunStatusParams) => this.status.fire(p)),
    ];
  }

  dispose(): void {
    this.output.dispose();
    this.metrics.dispose();
    this.status.dispose();
  }
}
