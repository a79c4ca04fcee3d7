// The Models view: registered models → versions (aliases in the description) → aliases, and
// the commands on them. Everything goes through the server (MLflow's registry on the
// workspace's store); this file renders and asks, the library decides.
import * as vscode from "vscode";
import { traceError } from "../common/log";
import { escapeMarkdown, markdownCode } from "../common/markdownText";
import { request, WorkspaceClient, workspaceClient } from "../common/requests";
import { ServerManager } from "../common/serverManager";
import { Commands, ErrorCodes, ListRunsResult, ModelVersionInfo, RegisteredModelInfo, Requests, Views } from "../protocol";
import { ensureTrusted } from "../scripts/trust";
import { aliasProblem, describeVersion, modelChoices, modelNameProblem, suggestModelName } from "./modelNames";

export type ModelsNode =
  | { kind: "model"; model: RegisteredModelInfo }
  | { kind: "modelVersion"; model: RegisteredModelInfo; version: ModelVersionInfo }
  | { kind: "modelAlias"; model: RegisteredModelInfo; alias: string; version: string }
  | { kind: "message"; text: string; icon: string };

/** An LSP error as the client hands it over: a code from ErrorCodes, a message, data. */
interface ServerError {
  code?: number;
  message?: string;
  data?: unknown;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String((error as ServerError)?.message ?? error);
}

function showError(error: unknown): void {
  void vscode.window.showErrorMessage(`ML Workbench: ${messageOf(error)}`);
}

function serverOf(servers: ServerManager): WorkspaceClient {
  const target = workspaceClient(servers);
  if (!target) {
    throw new Error("the server is not running yet (see ML Workbench: Show Log)");
  }
  return target;
}

export class ModelsTreeProvider implements vscode.TreeDataProvider<ModelsNode>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<ModelsNode | undefined>();
  readonly onDidChangeTreeData = this.changed.event;

  constructor(private readonly servers: ServerManager) {}

  refresh(): void {
    this.changed.fire(undefined);
  }

  getTreeItem(node: ModelsNode): vscode.TreeItem {
    switch (node.kind) {
      case "model": {
        const item = new vscode.TreeItem(node.model.name, vscode.TreeItemCollapsibleState.Collapsed);
        item.id = `model/${node.model.name}`;
        item.iconPath = new vscode.ThemeIcon("package");
        const count = node.model.versions.length;
        item.description = `${count} version${count === 1 ? "" : "s"}`;
        item.tooltip = node.model.description ?? undefined;
        item.contextValue = "model";
        return item;
      }
      case "modelVersion": {
        const { version } = node;
        const state = version.aliases.length > 0 ? vscode.TreeItemCollapsibleState.Collapsed : vscode.TreeItemCollapsibleState.None;
        const item = new vscode.TreeItem(`Version ${version.version}`, state);
        item.id = `model/${node.model.name}/${version.version}`;
        item.iconPath = new vscode.ThemeIcon(version.aliases.length > 0 ? "verified" : "versions");
        item.description = describeVersion(version);
        item.tooltip = versionTooltip(version);
        item.contextValue = "modelVersion";
        return item;
      }
      case "modelAlias": {
        const item = new vscode.TreeItem(`@${node.alias}`, vscode.TreeItemCollapsibleState.None);
        item.id = `model/${node.model.name}/${node.version}/@${node.alias}`;
        item.iconPath = new vscode.ThemeIcon("tag");
        item.tooltip = `models:/${node.model.name}@${node.alias} → version ${node.version}`;
        item.contextValue = "modelAlias";
        return item;
      }
      case "message": {
        const item = new vscode.TreeItem(node.text, vscode.TreeItemCollapsibleState.None);
        item.iconPath = new vscode.ThemeIcon(node.icon);
        item.tooltip = node.text;
        item.contextValue = "message";
        return item;
      }
    }
  }

  async getChildren(node?: ModelsNode): Promise<ModelsNode[]> {
    if (!node) {
      return this.roots();
    }
    if (node.kind === "model") {
      return node.model.versions.map((version) => ({ kind: "modelVersion", model: node.model, version }));
    }
    if (node.kind === "modelVersion") {
      return node.version.aliases.map((alias) => ({ kind: "modelAlias", model: node.model, alias, version: node.version.version }));
    }
    return [];
  }

  private async roots(): Promise<ModelsNode[]> {
    if (!this.servers.languageClient || !vscode.workspace.workspaceFolders?.length) {
      return []; // the welcome text shows; onReady refreshes the view
    }
    try {
      const { client, workspaceUri } = serverOf(this.servers);
      const result = await request(client, Requests.LIST_MODELS, { workspaceUri });
      return result.models.map((model) => ({ kind: "model", model }));
    } catch (error) {
      traceError("Listing models failed", error);
      return [{ kind: "message", text: messageOf(error), icon: "error" }];
    }
  }

  dispose(): void {
    this.changed.dispose();
  }
}

/** Every value here comes from the store, so each is escaped: it shows as text, never as a link or image. */
function versionTooltip(version: ModelVersionInfo): vscode.MarkdownString {
  const lines = [`**${escapeMarkdown(version.name)}** version ${escapeMarkdown(version.version)} · ${escapeMarkdown(version.status)}`];
  if (version.run_id) {
    lines.push(`Run ${markdownCode(version.run_id)}`);
  }
  if (version.creation_time) {
    lines.push(`Registered ${escapeMarkdown(new Date(version.creation_time).toLocaleString())}`);
  }
  if (version.aliases.length > 0) {
    lines.push(`Aliases: ${version.aliases.map((a) => markdownCode(`@${a}`)).join(", ")}`);
  }
  lines.push(`Source: ${markdownCode(version.source)}`);
  if (version.description) {
    lines.push(escapeMarkdown(version.description));
  }
  const md = new vscode.MarkdownString(lines.join("\n\n"), false);
  md.isTrusted = false;
  md.supportHtml = false;
  return md;
}

/**
 * Register the model a run logged: ask for the registry name (suggested from the run's script
 * or experiment), and when the run logged several models and `model` (a label) names none of
 * them, which one. Returns the new version.
 */
export async function registerModelFromRun(servers: ServerManager, runId: string, model?: string): Promise<ModelVersionInfo | undefined> {
  if (!(await ensureTrusted("register models"))) {
    return undefined;
  }
  try {
    const name = await vscode.window.showInputBox({
      title: "Register the run's model",
      prompt: "Registered model name (a new version is added if the model exists)",
      value: suggestModelName(await findRun(servers, runId)),
      validateInput: (value) => modelNameProblem(value),
    });
    if (name === undefined) {
      return undefined;
    }
    let version: ModelVersionInfo;
    try {
      const { client, workspaceUri } = serverOf(servers);
      version = await request(client, Requests.REGISTER_MODEL, { workspaceUri, runId, name, modelPath: model });
    } catch (error) {
      const choices = (error as ServerError).code === ErrorCodes.SEVERAL_MODELS_IN_RUN ? modelChoices((error as ServerError).data) : [];
      if (choices.length === 0) {
        throw error;
      }
      const modelPath = await vscode.window.showQuickPick(choices, {
        title: "This run logged several models: which one do you register?",
      });
      if (modelPath === undefined) {
        return undefined;
      }
      const { client, workspaceUri } = serverOf(servers);
      version = await request(client, Requests.REGISTER_MODEL, { workspaceUri, runId, name, modelPath });
    }
    void vscode.window.showInformationMessage(`ML Workbench: registered ${version.name} version ${version.version}.`);
    return version;
  } catch (error) {
    showError(error);
    return undefined;
  }
}

/** The run's summary, for the name suggestion only: a failure just means no suggestion. */
async function findRun(servers: ServerManager, runId: string): Promise<ListRunsResult["runs"][number] | undefined> {
  try {
    const { client, workspaceUri } = serverOf(servers);
    const result = await request(client, Requests.LIST_RUNS, { workspaceUri });
    return result.runs.find((run) => run.run_id === runId);
  } catch {
    return undefined;
  }
}

async function setAlias(servers: ServerManager, provider: ModelsTreeProvider, node: ModelsNode | undefined): Promise<void> {
  if (node?.kind !== "modelVersion") {
    void vscode.window.showInformationMessage("ML Workbench: right-click a model version in the Models view to set an alias.");
    return;
  }
  if (!(await ensureTrusted("change model aliases"))) {
    return;
  }
  const alias = await vscode.window.showInputBox({
    title: `Alias for ${node.model.name} version ${node.version.version}`,
    prompt: "Load it as models:/<name>@<alias>; an alias on another version moves here",
    placeHolder: "champion",
    validateInput: (value) => aliasProblem(value.trim()),
  });
  if (alias === undefined) {
    return;
  }
  const { client, workspaceUri } = serverOf(servers);
  await request(client, Requests.SET_MODEL_ALIAS, {
    workspaceUri,
    name: node.model.name,
    alias: alias.trim(),
    version: node.version.version,
  });
  provider.refresh();
}

async function removeAlias(servers: ServerManager, provider: ModelsTreeProvider, node: ModelsNode | undefined): Promise<void> {
  let alias: string | undefined;
  if (node?.kind === "modelAlias") {
    alias = node.alias;
  } else if (node?.kind === "modelVersion" && node.version.aliases.length > 0) {
    alias = node.version.aliases.length === 1 ? node.version.aliases[0] : await vscode.window.showQuickPick(node.version.aliases, { title: "Remove which alias?" });
  } else {
    void vscode.window.showInformationMessage("ML Workbench: right-click an alias in the Models view to remove it.");
    return;
  }
  if (alias === undefined || !(await ensureTrusted("change model aliases"))) {
    return;
  }
  const { client, workspaceUri } = serverOf(servers);
  await request(client, Requests.DELETE_MODEL_ALIAS, { workspaceUri, name: node.model.name, alias });
  provider.refresh();
}

/** The Models view, its commands, and a refresh each time the server (re)starts. */
export function registerModelsView(
  _context: vscode.ExtensionContext,
  servers: ServerManager,
): { provider: ModelsTreeProvider; dispose: () => void } {
  const provider = new ModelsTreeProvider(servers);
  const guarded =
    (handler: (node: ModelsNode | undefined) => Promise<void>) =>
    async (node: ModelsNode | undefined): Promise<void> => {
      try {
        await handler(node);
      } catch (error) {
        showError(error);
        provider.refresh(); // the registry may have changed under us (another window, the CLI)
      }
    };
  const disposables: vscode.Disposable[] = [
    provider,
    vscode.window.createTreeView(Views.MODELS, { treeDataProvider: provider, showCollapseAll: true }),
    servers.onReady(() => provider.refresh()),
    vscode.commands.registerCommand(Commands.REFRESH_MODELS, () => provider.refresh()),
    vscode.commands.registerCommand(Commands.SET_MODEL_ALIAS, guarded((node) => setAlias(servers, provider, node))),
    vscode.commands.registerCommand(Commands.REMOVE_MODEL_ALIAS, guarded((node) => removeAlias(servers, provider, node))),
  ];
  return {
    provider,
    dispose: () => {
      for (const d of disposables) {
        d.dispose();
      }
    },
  };
}
