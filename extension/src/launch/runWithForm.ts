// "Run with…": a quick-input form prefilled with the script's parsed parameters (defaults and
// help from the server's analysis), remembering the last values per script.
import * as path from "path";
import * as vscode from "vscode";
import { ScriptParameter } from "../protocol";
import { buildArgs, defaultValue, describeArgs, ParameterValues } from "./runParameters";

const STATE_KEY = "mlWorkbench.runWith.lastValues";

interface ParamItem extends vscode.QuickPickItem {
  parameter?: ScriptParameter;
  run?: boolean;
}

export function validateValue(p: ScriptParameter, value: string): string | undefined {
  if (value === "") {
    return p.required ? `${p.name} is required` : undefined;
  }
  if (p.type === "int" && !/^[-+]?\d+$/.test(value)) {
    return `${p.name} takes an integer`;
  }
  if (p.type === "float" && Number.isNaN(Number(value))) {
    return `${p.name} takes a number`;
  }
  if (p.choices && !p.choices.includes(value) && !p.choices.map((c) => c.replace(/^['"]|['"]$/g, "")).includes(value)) {
    return `${p.name} takes one of: ${p.choices.join(", ")}`;
  }
  return undefined;
}

export async function askRunArguments(
  state: vscode.Memento,
  script: vscode.Uri,
  parameters: ScriptParameter[],
  initial: ParameterValues = {},
): Promise<string[] | undefined> {
  const saved = state.get<Record<string, ParameterValues>>(STATE_KEY, {});
  const values: ParameterValues = {};
  for (const p of parameters) {
    // A rerun starts from that run's values; otherwise the last values used for this script.
    values[p.name] = initial[p.name] ?? saved[script.fsPath]?.[p.name] ?? defaultValue(p);
  }
  for (;;) {
    const args = buildArgs(parameters, values);
    const items: ParamItem[] = [
      { label: "$(play) Run", description: describeArgs(args), run: true, alwaysShow: true },
      { label: "Parameters", kind: vscode.QuickPickItemKind.Separator },
      ...parameters.map((p) => ({
        label: p.name,
        description: values[p.name] === "" ? "(unset)" : values[p.name],
        detail: [p.type ?? "any", p.help ?? ""].filter(Boolean).join(" — "),
        parameter: p,
      })),
    ];
    const picked = await vscode.window.showQuickPick(items, {
      title: `Run ${path.basename(script.fsPath)} with…`,
      placeHolder: "Pick a parameter to change it, or Run",
      matchOnDetail: true,
      ignoreFocusOut: true,
    });
    if (!picked) {
      return undefined;
    }
    if (picked.run) {
      const missing = parameters.find((p) => validateValue(p, values[p.name]) !== undefined);
      if (missing) {
        void vscode.window.showWarningMessage(`ML Workbench: ${validateValue(missing, values[missing.name]) ?? ""}`);
        continue;
      }
      await state.update(STATE_KEY, { ...saved, [script.fsPath]: values });
      return args;
    }
    const p = picked.parameter;
    if (!p) {
      continue;
    }
    const value =
      p.type === "bool"
        ? (await vscode.window.showQuickPick(["true", "false"], { title: p.name, placeHolder: p.help ?? undefined }))
        : p.choices
          ? await vscode.window.showQuickPick(p.choices.map((c) => c.replace(/^['"]|['"]$/g, "")), { title: p.name })
          : await vscode.window.showInputBox({
              title: `${p.name}${p.type ? ` (${p.type})` : ""}`,
              prompt: p.help ?? undefined,
              value: values[p.name],
              validateInput: (v) => validateValue(p, v),
              ignoreFocusOut: true,
            });
    if (value !== undefined) {
      values[p.name] = value;
    }
  }
}
