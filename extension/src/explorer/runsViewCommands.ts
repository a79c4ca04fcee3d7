// The Runs view's own commands: the filter box (checked by the server as you type, errors at
// their position), sort, group by script, deleted runs, paging, and Compare.
import * as vscode from "vscode";
import { request, workspaceClient } from "../common/requests";
import { ServerManager } from "../common/serverManager";
import { CompareData, Commands, Requests } from "../protocol";
import { showComparePanel } from "../compare/comparePanel";
import { runIdOf } from "./runActions";
import { orderChoices, pointAt } from "./runsQuery";
import { RunsTreeProvider } from "./runsTree";

const FILTER_HISTORY = "mlWorkbench.runs.filterHistory";

export function registerRunsViewCommands(
  context: vscode.ExtensionContext,
  servers: ServerManager,
  tree: RunsTreeProvider,
): vscode.Disposable[] {
  return [
    vscode.commands.registerCommand(Commands.FILTER_RUNS, () => askFilter(context, tree)),
    vscode.commands.registerCommand(Commands.CLEAR_RUNS_FILTER, () => tree.update({ filter: "", script: undefined })),
    vscode.commands.registerCommand(Commands.SORT_RUNS, () => askOrder(tree)),
    vscode.commands.registerCommand(Commands.GROUP_RUNS_BY_SCRIPT, () => tree.update({ groupByScript: true })),
    vscode.commands.registerCommand(Commands.UNGROUP_RUNS, () => tree.update({ groupByScript: false })),
    vscode.commands.registerCommand(Commands.SHOW_DELETED_RUNS, () => tree.update({ showDeleted: true })),
    vscode.commands.registerCommand(Commands.HIDE_DELETED_RUNS, () => tree.update({ showDeleted: false })),
    vscode.commands.registerCommand(Commands.LOAD_MORE_RUNS, (node: unknown) => tree.loadMore(node as never)),
    vscode.commands.registerCommand(Commands.COMPARE_RUNS, (arg: unknown, all?: unknown[]) => compare(context, servers, tree, arg, all)),
  ];
}

/** The filter box: an input that asks the server whether the filter parses as you type. */
async function askFilter(context: vscode.ExtensionContext, tree: RunsTreeProvider): Promise<void> {
  const history = context.workspaceState.get<string[]>(FILTER_HISTORY, []);
  const input = vscode.window.createInputBox();
  input.title = "Filter runs";
  input.value = tree.currentQuery.filter;
  input.placeholder = "metrics.rmse < 0.5 and params.alpha in ('0.1', '0.2') or 0.9 <= metrics.accuracy < 1";
  input.prompt =
    "MLflow's search syntax plus or, parentheses, in (…) and ranges. Empty shows all runs." +
    (history.length ? ` Recent: ${history.slice(0, 3).join("  |  ")}` : "");
  input.ignoreFocusOut = true;
  let generation = 0;
  let timer: NodeJS.Timeout | undefined;
  const check = (value: string): void => {
    const mine = ++generation;
    if (timer) {
      clearTimeout(timer);
    }
    timer = setTimeout(() => {
      void tree.checkFilter(value).then((problem) => {
        if (mine !== generation) {
          return;
        }
        input.validationMessage = problem
          ? { message: `${problem.message}${problem.position !== undefined ? `  ${pointAt(value, problem.position)}` : ""}`, severity: vscode.InputBoxValidationSeverity.Error }
          : undefined;
      });
    }, 200);
  };
  const accepted = await new Promise<string | undefined>((resolve) => {
    input.onDidChangeValue(check);
    input.onDidAccept(async () => {
      const problem = await tree.checkFilter(input.value);
      if (problem) {
        input.validationMessage = { message: `${problem.message}  ${pointAt(input.value, problem.position)}`, severity: vscode.InputBoxValidationSeverity.Error };
        return; // an invalid filter never replaces the tree with an empty one
      }
      resolve(input.value);
      input.hide();
    });
    input.onDidHide(() => resolve(undefined));
    input.show();
    if (input.value) {
      check(input.value);
    }
  });
  if (timer) {
    clearTimeout(timer);
  }
  input.dispose();
  if (accepted === undefined) {
    return;
  }
  const filter = accepted.trim();
  if (filter) {
    await context.workspaceState.update(FILTER_HISTORY, [filter, ...history.filter((h) => h !== filter)].slice(0, 10));
  }
  await tree.update({ filter });
}

async function askOrder(tree: RunsTreeProvider): Promise<void> {
  const current = tree.currentQuery.orderBy;
  const items = orderChoices(tree.loadedRuns()).map((choice) => ({
    label: choice.label,
    description: choice.orderBy === current ? "current" : undefined,
    orderBy: choice.orderBy,
  }));
  const picked = await vscode.window.showQuickPick(items, { title: "Sort runs by", matchOnDescription: true });
  if (picked) {
    await tree.update({ orderBy: picked.orderBy });
  }
}

async function compare(
  context: vscode.ExtensionContext,
  servers: ServerManager,
  tree: RunsTreeProvider,
  arg: unknown,
  all: unknown[] | undefined,
): Promise<void> {
  let ids = [...new Set((all && all.length ? all : [arg]).map(runIdOf).filter((id): id is string => id !== undefined))];
  if (ids.length < 2) {
    const loaded = tree.loadedRuns();
    const picked = await vscode.window.showQuickPick(
      loaded.map((run) => ({
        label: run.run_name,
        description: `${run.experiment_name} · ${run.status} · ${run.run_id.slice(0, 8)}`,
        picked: ids.includes(run.run_id),
        runId: run.run_id,
      })),
      { title: "Compare runs (pick two or more)", canPickMany: true, matchOnDescription: true },
    );
    if (!picked) {
      return;
    }
    ids = picked.map((p) => p.runId);
  }
  if (ids.length < 2) {
    void vscode.window.showInformationMessage("ML Workbench: pick at least two runs to compare (Ctrl/Shift-click in the Runs view).");
    return;
  }
  const load = async (runIds: string[]): Promise<CompareData> => {
    const target = workspaceClient(servers);
    if (!target) {
      throw new Error("the ML Workbench server is not running (see Show Log)");
    }
    return request(target.client, Requests.COMPARE_RUNS, { workspaceUri: target.workspaceUri, runIds });
  };
  showComparePanel(context.extensionUri, ids, load);
}
