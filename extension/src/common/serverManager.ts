// Owns the language client: starts the server with the chosen interpreter, restarts it on
// request, on interpreter/setting changes, and (with back-off) when it dies, and keeps the
// status bar and the user informed of why.
import { ChildProcess, spawn } from "child_process";
import * as vscode from "vscode";
import {
  CloseAction,
  ErrorAction,
  LanguageClient,
  LanguageClientOptions,
  RevealOutputChannelOn,
} from "vscode-languageclient/node";
import { describeSource, InterpreterChoice } from "./interpreterChoice";
import { resolveInterpreter } from "./interpreter";
import { LastLines } from "./lastLines";
import { showLog, traceError, traceInfo } from "./log";
import { RestartPolicy } from "./restartPolicy";
import { launcherPath, probeInterpreter, ProbeResult } from "./serverProbe";
import { readSettings } from "./settings";
import { ServerStatusBar } from "./statusBar";
import { trackingTokenEnv } from "./trackingToken";
import { Commands } from "../protocol";

export class ServerManager implements vscode.Disposable {
  private client: LanguageClient | undefined;
  private process: ChildProcess | undefined;
  private interpreter: InterpreterChoice | undefined;
  private readonly stderr = new LastLines(30);
  private readonly policy = new RestartPolicy();
  private restartTimer: NodeJS.Timeout | undefined;
  private generation = 0;
  /** The generation whose exit was already handled: a failed start reports twice. */
  private exitHandled = -1;
  private disposed = false;
  private readonly readyEmitter = new vscode.EventEmitter<LanguageClient>();
  /** Fires each time a (re)started server is ready for requests. */
  readonly onReady = this.readyEmitter.event;

  constructor(
    private readonly context: vscode.ExtensionContext,
    private readonly status: ServerStatusBar,
    private readonly log: vscode.LogOutputChannel,
  ) {}

  get languageClient(): LanguageClient | undefined {
    return this.client?.isRunning() ? this.client : undefined;
  }

  get currentInterpreter(): InterpreterChoice | undefined {
    return this.interpreter;
  }

  /** Start, or restart after a deliberate change: resets the crash budget. */
  async restart(reason: string): Promise<void> {
    this.policy.reset();
    await this.startFresh(reason, "restarting");
  }

  async start(): Promise<void> {
    await this.startFresh("activation", "starting");
  }

  private async startFresh(reason: string, state: "starting" | "restarting"): Promise<void> {
    if (this.restartTimer) {
      clearTimeout(this.restartTimer);
      this.restartTimer = undefined;
    }
    const generation = ++this.generation;
    this.status.set(state, `Reason: ${reason}`);
    traceInfo(`Starting server (${reason})`);
    await this.stopClient();
    if (generation !== this.generation || this.disposed) {
      return;
    }
    const interpreter = await resolveInterpreter();
    this.interpreter = interpreter;
    const probe = await probeInterpreter(
      this.context.extensionPath,
      interpreter.path,
      readSettings().serverExtraEnv,
    );
    if (generation !== this.generation || this.disposed) {
      return;
    }
    if (!probe.ok) {
      this.fail(probe, interpreter);
      return;
    }
    traceInfo(
      `Interpreter ${probe.executable ?? interpreter.path} (Python ${probe.python ?? "?"}, ${describeSource(interpreter.source)})`,
    );
    const client = this.createClient(interpreter.path, generation);
    this.client = client;
    try {
      await client.start();
    } catch (error) {
      traceError("The server failed to start", error);
      if (generation === this.generation) {
        this.onServerExit(generation);
      }
      return;
    }
    if (generation !== this.generation) {
      return;
    }
    const pid = this.process?.pid;
    this.status.set(
      "ready",
      `Python ${probe.python ?? "?"} — \`${probe.executable ?? interpreter.path}\` (${describeSource(interpreter.source)})` +
        (pid ? `\n\nServer pid ${pid}` : ""),
    );
    traceInfo(`Server ready (pid ${pid ?? "?"})`);
    this.readyEmitter.fire(client);
  }

  private createClient(python: string, generation: number): LanguageClient {
    const settings = readSettings();
    const serverOptions = async (): Promise<ChildProcess> => {
      this.stderr.clear();
      const token = await trackingTokenEnv(this.context.secrets);
      const child = spawn(python, [launcherPath(this.context.extensionPath)], {
        env: {
          MLFLOW_LOGGING_LEVEL: "WARNING",
          ...process.env,
          ...settings.serverExtraEnv,
          ...token,
          // The launcher reads it for every run it starts (python_backend/mlworkbench/launch/warm_pool.py).
          ...(settings.warmPool ? {} : { MLWORKBENCH_WARM: "0" }),
          PYTHONUNBUFFERED: "1",
        },
        stdio: "pipe",
        windowsHide: true,
      });
      this.process = child;
      child.stderr?.on("data", (data: Buffer) => this.stderr.push(data.toString()));
      child.on("exit", (code, signal) => {
        traceInfo(`Server process exited (code ${code ?? "none"}, signal ${signal ?? "none"})`);
      });
      return child;
    };
    const clientOptions: LanguageClientOptions = {
      documentSelector: [{ scheme: "file", language: "python" }],
      outputChannel: this.log,
      revealOutputChannelOn: RevealOutputChannelOn.Never,
      initializationOptions: { trusted: vscode.workspace.isTrusted, trackingUri: settings.trackingUri },
      errorHandler: {
        error: () => ({ action: ErrorAction.Continue }),
        closed: () => {
          // We own restarts (back-off, crash budget, messages), so the client never restarts.
          this.onServerExit(generation);
          return { action: CloseAction.DoNotRestart, handled: true };
        },
      },
    };
    return new LanguageClient("mlWorkbench", "ML Workbench", serverOptions, clientOptions);
  }

  private onServerExit(generation: number): void {
    if (generation !== this.generation || this.disposed || this.exitHandled === generation) {
      return;
    }
    this.exitHandled = generation;
    const why = this.stderr.last() ?? "no error output";
    const decision = this.policy.onCrash(Date.now());
    if (!decision.restart) {
      this.status.set("error", `The server stopped ${decision.attempt} times in a few minutes. Last error: ${why}`);
      traceError(`Server keeps stopping; giving up. Last error: ${why}`);
      void this.offerFix(
        `ML Workbench: the server stopped ${decision.attempt} times in a few minutes and was not restarted again. Last error: ${why}`,
        "show-log",
      );
      return;
    }
    this.status.set("restarting", `The server stopped (${why}); restarting (attempt ${decision.attempt}).`);
    traceError(`Server stopped: ${why}. Restart ${decision.attempt} in ${decision.delayMs} ms`);
    if (decision.attempt === 1) {
      void vscode.window.showWarningMessage(`ML Workbench: the server stopped (${why}). Restarting it…`);
    }
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      void this.startFresh(`restart after the server stopped (attempt ${decision.attempt})`, "restarting");
    }, decision.delayMs);
  }

  private fail(probe: ProbeResult, interpreter: InterpreterChoice): void {
    const message = probe.message ?? `The server cannot start with ${interpreter.path}.`;
    this.status.set("error", message);
    traceError(message);
    void this.offerFix(`ML Workbench: ${message}`, probe.fix ?? "show-log");
  }

  private async offerFix(message: string, fix: NonNullable<ProbeResult["fix"]>): Promise<void> {
    const actions: string[] = [];
    if (fix === "select-interpreter") {
      actions.push(vscode.extensions.getExtension("ms-python.python") ? "Select Interpreter" : "Open Settings");
    }
    if (fix === "setup-environment") {
      actions.push("Set up environment");
    }
    actions.push("Show Log", "Restart");
    const choice = await vscode.window.showErrorMessage(message, ...actions);
    switch (choice) {
      case "Select Interpreter":
        await vscode.commands.executeCommand("python.setInterpreter");
        break;
      case "Open Settings":
        await vscode.commands.executeCommand("workbench.action.openSettings", "mlWorkbench.python");
        break;
      case "Set up environment":
        await vscode.commands.executeCommand(Commands.SETUP_ENVIRONMENT);
        break;
      case "Show Log":
        showLog();
        break;
      case "Restart":
        await this.restart("restart requested after an error");
        break;
      default:
        break;
    }
  }

  private async stopClient(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    const child = this.process;
    this.process = undefined;
    if (client) {
      try {
        if (client.isRunning()) {
          await client.stop(2_000);
        }
      } catch (error) {
        traceError("Stopping the server failed", error);
      }
      await client.dispose().catch(() => undefined);
    }
    if (child && child.exitCode === null && child.signalCode === null) {
      // Give it a moment after `exit`: a hard kill mid-write can leave a store half-migrated.
      const exited = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), 3_000);
        child.once("exit", () => {
          clearTimeout(timer);
          resolve(true);
        });
      });
      if (!exited) {
        child.kill("SIGKILL");
      }
    }
  }

  async dispose(): Promise<void> {
    this.disposed = true;
    if (this.restartTimer) {
      clearTimeout(this.restartTimer);
    }
    this.readyEmitter.dispose();
    await this.stopClient();
  }
}
