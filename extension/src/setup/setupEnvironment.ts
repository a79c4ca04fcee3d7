// "ML Workbench: Set up environment": checks the selected interpreter with `mlworkbench doctor`
// and installs what is missing (the mlworkbench wheel shipped in the .vsix, with extras) in a
// terminal the user can watch, with progress and cancellation.
import { execFile } from "child_process";
import * as fs from "fs";
import * as path from "path";
import * as vscode from "vscode";
import { resolveInterpreter } from "../common/interpreter";
import { describeSource } from "../common/interpreterChoice";
import { showLog, traceError, traceInfo } from "../common/log";
import { ServerManager } from "../common/serverManager";
import { probeInterpreter } from "../common/serverProbe";
import { readSettings } from "../common/settings";
import { DoctorReport } from "../protocol";
import { runInTerminal } from "../scripts/processTerminal";
import { ensureTrusted } from "../scripts/trust";

function bundledPath(extensionPath: string, ...parts: string[]): string {
  return path.join(extensionPath, "extension", ...parts);
}

function runDoctor(extensionPath: string, python: string, extras: string[], workspace?: string): Promise<DoctorReport> {
  const args = [
    bundledPath(extensionPath, "tool", "run_cli.py"),
    "doctor",
    "--json",
    "--extras",
    extras.join(","),
    "--exclude-path",
    bundledPath(extensionPath, "bundled", "libs"),
  ];
  if (workspace) {
    args.push("--workspace", workspace);
  }
  return new Promise((resolve, reject) => {
    // doctor exits 1 when something is missing; its JSON is on stdout either way.
    execFile(python, args, { timeout: 60_000 }, (error, stdout, stderr) => {
      try {
        resolve(JSON.parse(stdout) as DoctorReport);
      } catch {
        reject(new Error(stderr.trim() || error?.message || "mlworkbench doctor printed no report"));
      }
    });
  });
}

function wheelPath(extensionPath: string): string | undefined {
  const folder = bundledPath(extensionPath, "bundled", "wheels");
  const wheel = fs.existsSync(folder) ? fs.readdirSync(folder).find((f) => f.endsWith(".whl")) : undefined;
  return wheel ? path.join(folder, wheel) : undefined;
}

function summary(report: DoctorReport): string {
  const installed = report.packages
    .filter((p) => p.installed)
    .map((p) => `${p.name} ${p.installed ?? ""}`);
  return [`Python ${report.python}`, `mlworkbench ${report.mlworkbench_installed ?? "missing"}`, ...installed].join(", ");
}

async function runStep(title: string, name: string, command: string, args: string[], cwd?: string): Promise<boolean> {
  return vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title, cancellable: true },
    async (_progress, token) => {
      const running = runInTerminal({ name, command, args, cwd });
      const cancel = token.onCancellationRequested(() => running.cancel());
      const code = await running.exit;
      cancel.dispose();
      return code === 0;
    },
  );
}

export async function setupEnvironment(context: vscode.ExtensionContext, servers: ServerManager): Promise<void> {
  if (!(await ensureTrusted("install packages into this workspace's environment"))) {
    return;
  }
  const folder = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
  const extras = readSettings().setupExtras;
  let interpreter = await resolveInterpreter();
  const probe = await probeInterpreter(context.extensionPath, interpreter.path);
  if (!probe.ok) {
    void vscode.window.showErrorMessage(`ML Workbench: ${probe.message ?? "the interpreter cannot be used."}`, "Show Log").then((c) => c && showLog());
    return;
  }
  const check = (): Thenable<DoctorReport> =>
    vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `ML Workbench: checking ${interpreter.path}…` },
      () => runDoctor(context.extensionPath, interpreter.path, extras, folder),
    );
  let report: DoctorReport;
  try {
    report = await check();
  } catch (error) {
    traceError("mlworkbench doctor failed", error);
    void vscode.window.showErrorMessage(`ML Workbench: could not check the environment: ${String(error)}`, "Show Log").then((c) => c && showLog());
    return;
  }
  traceInfo(`doctor: ${JSON.stringify(report)}`);
  if (report.ok) {
    void vscode.window.showInformationMessage(`ML Workbench: environment ready — ${summary(report)}.`);
    return;
  }
  const wheel = wheelPath(context.extensionPath);
  if (!wheel) {
    void vscode.window.showErrorMessage("ML Workbench: this build of the extension has no mlworkbench wheel; reinstall the .vsix.");
    return;
  }
  const requirement = `${wheel}[${extras.join(",")}]`;
  const actions = ["Install"];
  if (!probe.inVenv && folder && interpreter.source === "path") {
    actions.unshift("Create .venv and install");
  }
  const choice = await vscode.window.showWarningMessage(
    `ML Workbench: ${interpreter.path} (${describeSource(interpreter.source)}) is missing ${report.missing.join(", ")}. Install mlworkbench[${extras.join(",")}]?`,
    ...actions,
  );
  if (!choice) {
    return;
  }
  if (choice === "Create .venv and install" && folder) {
    const venv = path.join(folder, ".venv");
    const created = await runStep("ML Workbench: creating .venv…", "ML Workbench: create .venv", interpreter.path, ["-m", "venv", venv], folder);
    if (!created) {
      void vscode.window.showErrorMessage("ML Workbench: creating .venv failed; see the terminal.");
      return;
    }
    interpreter = await resolveInterpreter();
  }
  const installed = await runStep(
    `ML Workbench: installing mlworkbench[${extras.join(",")}]…`,
    "ML Workbench: set up environment",
    interpreter.path,
    ["-m", "pip", "install", requirement],
    folder,
  );
  if (!installed) {
    void vscode.window.showErrorMessage("ML Workbench: the install failed or was cancelled; the terminal shows pip's output.");
    return;
  }
  report = await check();
  if (report.ok) {
    void vscode.window.showInformationMessage(`ML Workbench: environment ready — ${summary(report)}.`);
    await servers.restart("environment set up");
  } else {
    void vscode.window.showErrorMessage(`ML Workbench: still missing ${report.missing.join(", ")} after the install.`);
  }
}
