// Runs a program (an argument list, never a shell string) in a VS Code terminal the user can
// watch, and reports its exit code. Ctrl+C and closing the terminal interrupt the whole process
// group, so children a training script forks are stopped too.
import { ChildProcess, spawn } from "child_process";
import * as vscode from "vscode";

export interface ProcessSpec {
  name: string;
  command: string;
  args: string[];
  cwd?: string;
  env?: Record<string, string>;
}

export interface RunningProcess {
  terminal: vscode.Terminal;
  /** Resolves with the exit code (or null when killed by a signal). */
  exit: Promise<number | null>;
  /** SIGINT to the group, then SIGTERM and SIGKILL if it does not stop. */
  cancel(): void;
}

const GRACE_MS = 5_000;

export function runInTerminal(spec: ProcessSpec): RunningProcess {
  const writer = new vscode.EventEmitter<string>();
  let child: ChildProcess | undefined;
  let resolveExit: (code: number | null) => void = () => undefined;
  const exit = new Promise<number | null>((resolve) => (resolveExit = resolve));

  const signalGroup = (signal: NodeJS.Signals): void => {
    if (!child?.pid || child.exitCode !== null || child.signalCode !== null) {
      return;
    }
    try {
      process.kill(-child.pid, signal);
    } catch {
      child.kill(signal);
    }
  };
  const cancel = (): void => {
    signalGroup("SIGINT");
    setTimeout(() => signalGroup("SIGTERM"), GRACE_MS).unref();
    setTimeout(() => signalGroup("SIGKILL"), 2 * GRACE_MS).unref();
  };

  const pty: vscode.Pseudoterminal = {
    onDidWrite: writer.event,
    open: () => {
      writer.fire(`\x1b[2m$ ${[spec.command, ...spec.args].map(quoteForDisplay).join(" ")}\x1b[0m\r\n`);
      child = spawn(spec.command, spec.args, {
        cwd: spec.cwd,
        env: { ...process.env, ...spec.env, PYTHONUNBUFFERED: "1" },
        detached: true, // its own process group, so cancel reaches the children it forks
        stdio: ["ignore", "pipe", "pipe"],
      });
      const forward = (data: Buffer): void => writer.fire(data.toString().replace(/\r?\n/g, "\r\n"));
      child.stdout?.on("data", forward);
      child.stderr?.on("data", forward);
      child.on("error", (error) => {
        writer.fire(`\r\n\x1b[31mCould not start ${spec.command}: ${error.message}\x1b[0m\r\n`);
        resolveExit(-1);
      });
      child.on("close", (code, signal) => {
        const how = signal ? `stopped by ${signal}` : `exited with code ${code ?? "?"}`;
        const colour = code === 0 ? "32" : "31";
        writer.fire(`\r\n\x1b[${colour}m[${spec.name} ${how}]\x1b[0m\r\n`);
        resolveExit(code);
      });
    },
    close: cancel,
    handleInput: (data) => {
      if (data === "\x03") {
        writer.fire("^C\r\n");
        signalGroup("SIGINT");
      }
    },
  };
  const terminal = vscode.window.createTerminal({ name: spec.name, pty, iconPath: new vscode.ThemeIcon("beaker") });
  terminal.show(true);
  void exit.then(() => writer.dispose());
  return { terminal, exit, cancel };
}

function quoteForDisplay(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}
