// Commands on training scripts: Run (code lens, editor title, palette), Show Script Analysis,
// Open a Training Script. Analysis comes from the server; this file only renders and launches.
import * as path from "path";
import * as vscode from "vscode";
import { Commands, FRAMEWORK_LABELS, Requests, ScriptAnalysis } from "../protocol";
import { request } from "../common/requests";
import { ServerManager } from "../common/serverManager";
import { RunController } from "../launch/runController";
import { askRunArguments } from "../launch/runWithForm";

export function targetUri(arg: unknown): vscode.Uri | undefined {
  if (arg instanceof vscode.Uri) {
    return arg;
  }
  if (typeof arg === "string") {
    return vscode.Uri.parse(arg);
  }
  return vscode.window.activeTextEditor?.document.uri;
}

export async function runScript(runs: RunController, arg: unknown): Promise<void> {
  const uri = targetUri(arg);
  if (!uri || uri.scheme !== "file") {
    void vscode.window.showErrorMessage("ML Workbench: open a Python training script (a file on disk) to run it.");
    return;
  }
  await runs.start(uri, []);
}

export async function runScriptWith(
  context: vscode.ExtensionContext,
  servers: ServerManager,
  runs: RunController,
  arg: unknown,
): Promise<void> {
  const uri = targetUri(arg);
  if (!uri || uri.scheme !== "file") {
    void vscode.window.showErrorMessage("ML Workbench: open a Python training script (a file on disk) to run it.");
    return;
  }
  const analysis = await analysisFor(servers, uri);
  if (!analysis) {
    return;
  }
  if (analysis.syntax_error) {
    void vscode.window.showErrorMessage(
      `ML Workbench: ${path.basename(uri.fsPath)} has a syntax error on line ${analysis.syntax_error.line + 1}: ${analysis.syntax_error.message}`,
    );
    return;
  }
  const args = await askRunArguments(context.workspaceState, uri, analysis.parameters);
  if (args) {
    await runs.start(uri, args);
  }
}

export async function analysisFor(servers: ServerManager, uri: vscode.Uri): Promise<ScriptAnalysis | undefined> {
  const client = servers.languageClient;
  if (!client) {
    void vscode.window.showWarningMessage("ML Workbench: the server is not running yet.", "Show Log").then((c) => {
      if (c) {
        void vscode.commands.executeCommand(Commands.SHOW_LOG);
      }
    });
    return undefined;
  }
  try {
    return await request(client, Requests.ANALYZE_SCRIPT, { uri: uri.toString() });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    void vscode.window.showErrorMessage(`ML Workbench: cannot analyse ${path.basename(uri.fsPath)}: ${message}`);
    return undefined;
  }
}

interface InfoItem extends vscode.QuickPickItem {
  line?: number;
}

export async function showScriptInfo(servers: ServerManager, arg: unknown): Promise<void> {
  const uri = targetUri(arg);
  if (!uri) {
    void vscode.window.showErrorMessage("ML Workbench: open a Python script first.");
    return;
  }
  const analysis = await analysisFor(servers, uri);
  if (!analysis) {
    return;
  }
  const items: InfoItem[] = [];
  if (analysis.syntax_error) {
    const problem = analysis.syntax_error;
    items.push({
      label: `$(error) Syntax error on line ${problem.line + 1}`,
      detail: problem.message,
      line: problem.line,
    });
  } else {
    const frameworks = analysis.frameworks.map((f) => FRAMEWORK_LABELS[f] ?? f).join(", ") || "none detected";
    items.push({ label: "Frameworks", kind: vscode.QuickPickItemKind.Separator });
    items.push({ label: `$(package) ${frameworks}` });
    items.push({ label: "Parameters", kind: vscode.QuickPickItemKind.Separator });
    if (analysis.parameters.length === 0) {
      items.push({ label: "$(circle-slash) no argparse or click parameters" });
    }
    for (const p of analysis.parameters) {
      const flags = p.flags.length ? p.flags.join(", ") : p.name;
      items.push({
        label: `$(symbol-parameter) ${p.name}`,
        description: [p.type ?? "any", p.default !== null ? `= ${p.default}` : p.required ? "required" : ""]
          .filter(Boolean)
          .join(" "),
        detail: `${flags}${p.help ? ` — ${p.help}` : ""} (${p.source})`,
        line: p.line,
      });
    }
    items.push({ label: "Entry point", kind: vscode.QuickPickItemKind.Separator });
    items.push({
      label: analysis.main_guard_line !== null ? `$(symbol-event) __main__ guard, line ${analysis.main_guard_line + 1}` : "$(warning) no __main__ guard",
      description: analysis.entry_function ? `calls ${analysis.entry_function}()` : "",
      line: analysis.main_guard_line ?? analysis.entry_line ?? undefined,
    });
    items.push({
      label: analysis.uses_mlflow ? "$(graph) calls MLflow itself" : "$(graph) no MLflow calls (ML Workbench tracks it from outside)",
      detail: analysis.mlflow_calls.join(", ") || undefined,
    });
  }
  const picked = await vscode.window.showQuickPick(items, {
    title: `ML Workbench: ${path.basename(uri.fsPath)}`,
    placeHolder: "Pick a line to go to it",
    matchOnDetail: true,
  });
  if (picked?.line !== undefined) {
    const editor = await vscode.window.showTextDocument(uri);
    const position = new vscode.Position(picked.line, 0);
    editor.selection = new vscode.Selection(position, position);
    editor.revealRange(new vscode.Range(position, position), vscode.TextEditorRevealType.InCenter);
  }
}

const EXCLUDE = "{**/.venv/**,**/venv/**,**/node_modules/**,**/site-packages/**,**/.git/**}";

export async function openTrainingScript(): Promise<void> {
  const files = await vscode.workspace.findFiles("**/*.py", EXCLUDE, 500);
  if (files.length === 0) {
    void vscode.window.showInformationMessage("ML Workbench: this workspace has no Python files yet.");
    return;
  }
  // Likely training scripts first; the server's lenses tell the rest once a file is open.
  const score = (uri: vscode.Uri): number => (/train|fit|model/i.test(path.basename(uri.fsPath)) ? 0 : 1);
  files.sort((a, b) => score(a) - score(b) || a.fsPath.localeCompare(b.fsPath));
  const chosen =
    files.length === 1
      ? files[0]
      : (
          await vscode.window.showQuickPick(
            files.map((uri) => ({ label: path.basename(uri.fsPath), description: vscode.workspace.asRelativePath(uri), uri })),
            { title: "ML Workbench: open a training script", matchOnDescription: true },
          )
        )?.uri;
  if (chosen) {
    await vscode.window.showTextDocument(chosen);
  }
}
