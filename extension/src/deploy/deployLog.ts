// The "ML Workbench: Deploy" output channel: every line of a build's log (the server's deployLog
// notifications, in order), shown without taking the focus from the editor.
import * as vscode from "vscode";

export class DeployLog implements vscode.Disposable {
  private readonly channel = vscode.window.createOutputChannel("ML Workbench: Deploy");

  /** Starts a section for a new job and brings the channel into view, focus left where it is. */
  begin(title: string): void {
    this.channel.appendLine("");
    this.channel.appendLine(`=== ${title} (${new Date().toLocaleString()}) ===`);
    this.channel.show(true);
  }

  line(text: string): void {
    this.channel.appendLine(text.replace(/\r?\n$/, ""));
  }

  show(): void {
    this.channel.show(true);
  }

  dispose(): void {
    this.channel.dispose();
  }
}
