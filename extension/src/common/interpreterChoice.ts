// The order in which ML Workbench picks a Python interpreter. Pure (no vscode import) so the
// rules are unit-tested: the Python extension's choice, then the setting, then the workspace
// .venv (trusted workspaces only: a checked-in venv is workspace code), then python3 on PATH.

export type InterpreterSource = "python-extension" | "setting" | "workspace-venv" | "path";

export interface InterpreterCandidates {
  fromPythonExtension?: string | undefined;
  fromSetting?: string | undefined;
  workspaceVenv?: string | undefined;
  trusted: boolean;
}

export interface InterpreterChoice {
  path: string;
  source: InterpreterSource;
}

export const PATH_FALLBACK = "python3";

export function chooseInterpreter(candidates: InterpreterCandidates): InterpreterChoice {
  if (candidates.trusted && candidates.fromPythonExtension) {
    return { path: candidates.fromPythonExtension, source: "python-extension" };
  }
  if (candidates.fromSetting) {
    return { path: candidates.fromSetting, source: "setting" };
  }
  if (candidates.trusted && candidates.workspaceVenv) {
    return { path: candidates.workspaceVenv, source: "workspace-venv" };
  }
  return { path: PATH_FALLBACK, source: "path" };
}

export function describeSource(source: InterpreterSource): string {
  switch (source) {
    case "python-extension":
      return "selected in the Python extension";
    case "setting":
      return "from the mlWorkbench.python setting";
    case "workspace-venv":
      return "the workspace .venv";
    case "path":
      return "python3 on PATH";
  }
}
