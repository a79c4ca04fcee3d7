// Finds the interpreter to use, and tells listeners when the Python extension's choice changes.
// The Python extension is optional (code-server users rarely have it), so it is looked up at
// run time and never listed in extensionDependencies.
import * as fs from "fs";
import * as path from "path";
import * as vscode from "vscode";
import { PythonExtension } from "@vscode/python-extension";
import { chooseInterpreter, InterpreterChoice } from "./interpreterChoice";
import { readSettings } from "./settings";
import { traceError } from "./log";

const PYTHON_EXTENSION_ID = "ms-python.python";

async function pythonExtensionApi(): Promise<PythonExtension | undefined> {
  if (!vscode.extensions.getExtension(PYTHON_EXTENSION_ID)) {
    return undefined;
  }
  try {
    return await PythonExtension.api();
  } catch (error) {
    traceError("Python extension API unavailable", error);
    return undefined;
  }
}

async function fromPythonExtension(resource: vscode.Uri | undefined): Promise<string | undefined> {
  const api = await pythonExtensionApi();
  if (!api) {
    return undefined;
  }
  const active = api.environments.getActiveEnvironmentPath(resource);
  const resolved = await api.environments.resolveEnvironment(active);
  return resolved?.executable.uri?.fsPath;
}

function workspaceVenv(folder: vscode.WorkspaceFolder | undefined): string | undefined {
  if (!folder || folder.uri.scheme !== "file") {
    return undefined;
  }
  const candidate =
    process.platform === "win32"
      ? path.join(folder.uri.fsPath, ".venv", "Scripts", "python.exe")
      : path.join(folder.uri.fsPath, ".venv", "bin", "python");
  return fs.existsSync(candidate) ? candidate : undefined;
}

/** The interpreter for a resource (or the first workspace folder). */
export async function resolveInterpreter(resource?: vscode.Uri): Promise<InterpreterChoice> {
  const folder = resource
    ? vscode.workspace.getWorkspaceFolder(resource)
    : vscode.workspace.workspaceFolders?.[0];
  const trusted = vscode.workspace.isTrusted;
  // In Restricted Mode VS Code already hides workspace values of restrictedConfigurations,
  // so readSettings only returns what the user set outside the workspace.
  return chooseInterpreter({
    fromPythonExtension: trusted ? await fromPythonExtension(folder?.uri) : undefined,
    fromSetting: readSettings(folder?.uri).python || undefined,
    workspaceVenv: workspaceVenv(folder),
    trusted,
  });
}

/** Fires when the Python extension's active interpreter changes (no-op without it). */
export async function onInterpreterChanged(
  listener: () => void,
): Promise<vscode.Disposable | undefined> {
  const api = await pythonExtensionApi();
  return api?.environments.onDidChangeActiveEnvironmentPath(() => listener());
}
