// A terminal that shows one tracked run's output as the server streams it. The process runs
// under the server (so it is tracked), not in this terminal: Ctrl+C and closing the terminal
// ask the server to cancel the run.
import * as vscode from "vscode";

export class RunTerminal implements vscode.Disposable {
  private readonly writer = new vscode.EventEmitter<string>();
  private readonly pending: string[] = [];
  private opened = false;
  private ended = false;
  readonly terminal: vscode.Terminal;

  constructor(
    name: string,
    header: string,
    private readonly onCancel: () => void,
  ) {
    const pty: vscode.Pseudoterminal = {
      onDidWrite: this.writer.event,
      open: () => {
        this.opened = true;
        this.writer.fire(`\x1b[2m${header}\x1b[0m\r\n`);
        for (const text of this.pending.splice(0)) {
          this.writer.fire(text);
        }
      },
      close: () => {
        if (!this.ended) {
          this.onCancel();
        }
      },
      handleInput: (data) => {
        if (data === "\x03" && !this.ended) {
          this.write("^C — cancelling the run…\n");
          this.onCancel();
        }
      },
    };
    this.terminal = vscode.window.createTerminal({ name, pty, iconPath: new vscode.ThemeIcon("beaker") });
  }

  write(text: string): void {
    const converted = text.replace(/\r?\n/g, "\r\n");
    if (this.opened) {
      this.writer.fire(converted);
    } else {
      this.pending.push(converted);
    }
  }

  end(status: string, detail: string): void {
    this.ended = true;
    const colour = status === "FINISHED" ? "32" : "31";
    this.write(`\n\x1b[${colour}m[run ${status.toLowerCase()}${detail ? `: ${detail}` : ""}]\x1b[0m\n`);
  }

  dispose(): void {
    this.writer.dispose();
  }
}
