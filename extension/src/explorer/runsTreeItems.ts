// How the Runs view draws its rows: labels, icons, descriptions, tooltips and context values of
// runs, sections, values, models and artifacts. Kept apart from runsTree.ts, which decides what rows there are.
import * as path from "path";
import * as vscode from "vscode";
import { escapeMarkdown, markdownCode, markdownCodeBlock } from "../common/markdownText";
import { ArtifactEntry, Commands, ReportEntry, RunModel, RunSummary } from "../protocol";
import { describeRun, formatNumber } from "./runFormat";
import { statusIcon } from "./runPresentation";
import type { RunsNode } from "./runsTree";

export function firstLine(text: string): string {
  const line = text.split(/\r?\n/, 1)[0] ?? "";
  return line.length > 60 ? `${line.slice(0, 59)}…` : line;
}

export function runItem(run: RunSummary, running: boolean, deleted: boolean): vscode.TreeItem {
  const item = new vscode.TreeItem(run.run_name, vscode.TreeItemCollapsibleState.Collapsed);
  item.id = run.run_id;
  item.iconPath = deleted ? new vscode.ThemeIcon("trash") : statusIcon(running ? "RUNNING" : run.status);
  item.description = describeRun(run, Date.now());
  item.tooltip = tooltip(run);
  item.contextValue = deleted ? "run.deleted" : running ? "run.running" : "run.ended";
  item.accessibilityInformation = {
    label: `${run.run_name}, ${deleted ? "deleted" : running ? "running" : run.status.toLowerCase()}`,
  };
  return item;
}

export function sectionItem(node: Extract<RunsNode, { kind: "section" }>): vscode.TreeItem {
  const source = node.details ?? undefined;
  const count = (values: Record<string, unknown> | undefined): string => (values ? String(Object.keys(values).length) : "");
  const spec = {
    params: { label: "Parameters", icon: "symbol-parameter", count: count(source?.params ?? node.run.params) },
    metrics: { label: "Metrics", icon: "graph", count: count(source?.metrics ?? node.run.metrics) },
    tags: { label: "Tags", icon: "tag", count: count(source?.tags) },
    models: { label: "Models", icon: "package", count: String(source?.models.length ?? "") },
    artifacts: { label: "Artifacts", icon: "files", count: "" },
    reports: { label: "Reports", icon: "graph", count: "" },
  }[node.section];
  const empty = spec.count === "0";
  const item = new vscode.TreeItem(
    spec.label,
    empty ? vscode.TreeItemCollapsibleState.None : vscode.TreeItemCollapsibleState.Collapsed,
  );
  item.id = `${node.run.run_id}/${node.section}`;
  item.iconPath = new vscode.ThemeIcon(spec.icon);
  item.description = spec.count;
  item.contextValue = `section.${node.section}`;
  return item;
}

/** A param, metric or tag (with its value), or the run's note, which opens it for editing. */
export function valueItem(node: Extract<RunsNode, { kind: "value" }>): vscode.TreeItem {
  const item = new vscode.TreeItem(node.label, vscode.TreeItemCollapsibleState.None);
  item.id = node.id;
  item.description = node.description;
  item.tooltip = node.tooltip;
  item.contextValue = node.tagKey !== undefined ? "runTag" : "runValue";
  if (node.note) {
    item.iconPath = new vscode.ThemeIcon("note");
    item.command = { command: Commands.NOTE_RUN, title: "Edit Run Note", arguments: [{ runId: node.run.run_id }] };
  }
  return item;
}

/** A model the run logged: opens its MLmodel; the inline action registers it. */
export function modelItem(run: RunSummary, model: RunModel): vscode.TreeItem {
  const item = new vscode.TreeItem(model.label, vscode.TreeItemCollapsibleState.None);
  item.id = `${run.run_id}/models/${model.uri}`;
  item.iconPath = new vscode.ThemeIcon("package");
  item.description = model.uri;
  item.tooltip = `${model.uri}\n${model.source}`;
  item.contextValue = "runModel";
  item.command = { command: Commands.OPEN_ARTIFACT, title: "Open MLmodel", arguments: [{ runId: run.run_id, model: model.label }] };
  return item;
}

/** Icons of the report kinds the backend writes (reports/<name>.json). */
const REPORT_ICONS: Record<string, string> = { fairness: "law", explain: "lightbulb", privacy: "shield", card: "book", mitigate: "law" };

/** One of the run's reports: opens it in the Report panel. */
export function reportItem(run: RunSummary, entry: ReportEntry): vscode.TreeItem {
  const item = new vscode.TreeItem(entry.name, vscode.TreeItemCollapsibleState.None);
  item.id = `${run.run_id}/reports/${entry.name}`;
  item.iconPath = new vscode.ThemeIcon(REPORT_ICONS[entry.name.split(/[-_.]/)[0]] ?? "graph");
  item.description = entry.artifactPath;
  item.tooltip = `Open the ${entry.name} report (${entry.artifactPath})`;
  item.contextValue = "runReport";
  item.command = {
    command: Commands.OPEN_REPORT,
    title: "Open Report",
    arguments: [{ runId: run.run_id, name: entry.name, runName: run.run_name }],
  };
  item.accessibilityInformation = { label: `${entry.name} report` };
  return item;
}

export function artifactItem(run: RunSummary, entry: ArtifactEntry): vscode.TreeItem {
  const name = entry.path.split("/").pop() ?? entry.path;
  const item = new vscode.TreeItem(name, entry.is_dir ? vscode.TreeItemCollapsibleState.Collapsed : vscode.TreeItemCollapsibleState.None);
  item.id = `${run.run_id}/artifact/${entry.path}`;
  item.iconPath = entry.is_dir ? vscode.ThemeIcon.Folder : vscode.ThemeIcon.File;
  item.resourceUri = vscode.Uri.file(`/${entry.path}`); // theme file icons by name; never opened
  item.description = entry.size !== null && !entry.is_dir ? formatBytes(entry.size) : undefined;
  item.tooltip = entry.path;
  item.contextValue = entry.is_dir ? "artifact.dir" : "artifact.file";
  if (!entry.is_dir) {
    item.command = { command: Commands.OPEN_ARTIFACT, title: "Open Artifact", arguments: [{ runId: run.run_id, path: entry.path }] };
  }
  return item;
}

function formatBytes(size: number): string {
  if (size < 1024) {
    return `${size} B`;
  }
  const units = ["KiB", "MiB", "GiB"];
  let value = size / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

/** Run names, params and logs come from the store: escaped, with no theme icons, HTML or trusted links. */
function tooltip(run: RunSummary): vscode.MarkdownString {
  const md = new vscode.MarkdownString(undefined, false);
  md.isTrusted = false;
  md.supportHtml = false;
  md.appendMarkdown(`**${escapeMarkdown(run.run_name)}** — ${escapeMarkdown(run.status)}\n\n`);
  if (run.script) {
    md.appendMarkdown(`Script: ${markdownCode(path.basename(run.script))}\n\n`);
  }
  const params = Object.entries(run.params);
  if (params.length) {
    md.appendMarkdown(`Params: ${params.map(([k, v]) => `${escapeMarkdown(k)}=${escapeMarkdown(v)}`).join(", ")}\n\n`);
  }
  const metrics = Object.entries(run.metrics);
  if (metrics.length) {
    md.appendMarkdown(`Metrics: ${metrics.map(([k, v]) => `${escapeMarkdown(k)}=${escapeMarkdown(formatNumber(v))}`).join(", ")}\n\n`);
  }
  if (run.error_tail) {
    md.appendMarkdown(markdownCodeBlock(run.error_tail.split(/\r?\n/).slice(-5).join("\n")));
  }
  md.appendMarkdown(markdownCode(run.run_id));
  return md;
}
