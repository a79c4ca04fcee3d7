// The quick inputs that gather a report's inputs: kind → model → data file → target →
// sensitive features (fairness) or rows (explanations), and the privacy commands' data file,
// epsilon, synthesizer and SQL. Candidates come from the server (the run's models from
// runDetails, a data file's columns from inspectData); what was picked is remembered per run in
// the workspace state. The ordering and checks are in reportWizardSteps.ts.
import * as path from "path";
import * as vscode from "vscode";
import { request, type WorkspaceClient } from "../common/requests";
import { type DataColumn, Requests } from "../protocol";
import type { ReportRequest } from "./reportJobs";
import {
  type Candidate,
  checkSql,
  inputsOf,
  isDataFile,
  orderDataFiles,
  parseBounds,
  parseEpsilon,
  parseRows,
  recallChoices,
  rememberChoices,
  REMEMBERED_KEY,
  type RememberedChoices,
  RUN_REPORT_KINDS,
  sensitiveCandidates,
  targetCandidates,
} from "./reportWizardSteps";

/** Folders never searched for data files. */
const DATA_EXCLUDE = "**/{node_modules,.venv,venv,.git,mlruns,__pycache__,.mlworkbench}/**";
const MAX_DATA_FILES = 200;
const PRIVACY_KEY = "mlWorkbench.privacy.choices";

export interface WizardRun {
  runId: string;
  runName: string;
}

interface Picked<T> extends vscode.QuickPickItem {
  value: T;
}

/** The run report the user asked for, or undefined when they cancelled a step. */
export async function askRunReport(target: WorkspaceClient, state: vscode.Memento, run: WizardRun): Promise<ReportRequest | undefined> {
  const remembered = recallChoices(state.get(REMEMBERED_KEY), run.runId);
  const title = (step: string): string => `Report on ${run.runName}: ${step}`;
  const kind = await pick(
    RUN_REPORT_KINDS.map((choice) => ({ label: choice.label, detail: choice.detail, value: choice.kind, picked: choice.kind === remembered.kind })),
    title("kind"),
    "What should the report show?",
    remembered.kind,
  );
  if (kind === undefined) {
    return undefined;
  }
  const needs = inputsOf(kind);
  const chosen: RememberedChoices = { ...remembered, kind };
  const params: ReportRequest = { kind, runId: run.runId };
  if (needs.model) {
    const model = await askModel(target, run, remembered.model, title("model"));
    if (model === undefined) {
      return undefined;
    }
    // "" is the run's only model: the server finds it.
    params.model = model || undefined;
    chosen.model = model || undefined;
  }
  if (needs.data) {
    const data = await askDataFile(title("data"), remembered.data);
    if (data === undefined) {
      return undefined;
    }
    params.data = chosen.data = data;
    const columns = await inspect(target, data);
    if (columns === undefined) {
      return undefined;
    }
    if (needs.target) {
      const column = await pickColumn(targetCandidates(columns, remembered.target), title("target"), "The column the model predicts (its true label)");
      if (column === undefined) {
        return undefined;
      }
      params.target = chosen.target = column;
    }
    if (needs.sensitive) {
      const sensitive = await pickSensitive(sensitiveCandidates(columns, params.target ?? "", remembered.sensitive), title("sensitive features"));
      if (sensitive === undefined) {
        return undefined;
      }
      params.sensitive = chosen.sensitive = sensitive;
    }
  }
  if (needs.rows) {
    const rows = await askRows(title("rows to explain"), remembered.rows);
    if (rows === undefined) {
      return undefined;
    }
    params.options = { ...params.options, rows };
    chosen.rows = rows;
  }
  await state.update(REMEMBERED_KEY, rememberChoices(state.get(REMEMBERED_KEY), run.runId, chosen));
  return params;
}

async function pick<T>(items: Picked<T>[], title: string, placeHolder: string, first?: T): Promise<T | undefined> {
  // The remembered item goes first, so Enter takes it.
  const ordered = first === undefined ? items : [...items.filter((i) => i.value === first), ...items.filter((i) => i.value !== first)];
  const picked = await vscode.window.showQuickPick(ordered, { title, placeHolder, ignoreFocusOut: true, matchOnDetail: true, matchOnDescription: true });
  return picked?.value;
}

/** The run's model label ("" when it has exactly one), a URI the user typed, or undefined. */
async function askModel(target: WorkspaceClient, run: WizardRun, remembered: string | undefined, title: string): Promise<string | undefined> {
  const details = await request(target.client, Requests.RUN_DETAILS, { workspaceUri: target.workspaceUri, runId: run.runId });
  const models = details.models;
  if (models.length === 1) {
    return "";
  }
  const typed = "\u0000typed";
  const items: Picked<string>[] = models.map((model) => ({ label: model.label, description: model.uri, detail: model.source, value: model.label }));
  items.push({
    label: "$(edit) Enter a model URI\u2026",
    detail: models.length === 0 ? "This run logged no model: name one (runs:/…, models:/…, a local folder)" : "A model of another run or the registry",
    value: typed,
  });
  const choice = await pick(items, title, models.length === 0 ? "This run logged no model" : "Which of the run's models?", remembered);
  if (choice !== typed) {
    return choice;
  }
  const uri = await vscode.window.showInputBox({
    title,
    prompt: "A model URI: runs:/<run id>/<path>, models:/<name>/<version or @alias>, or a local MLflow model folder",
    value: remembered && !models.some((m) => m.label === remembered) ? remembered : "",
    ignoreFocusOut: true,
    validateInput: (value) => (value.trim() === "" ? "Enter a model URI" : undefined),
  });
  return uri?.trim() || undefined;
}

/** A CSV or Parquet file: workspace-relative when inside the workspace. */
export async function askDataFile(title: string, remembered?: string): Promise<string | undefined> {
  const found = await vscode.workspace.findFiles("**/*.{csv,parquet,pq}", DATA_EXCLUDE, MAX_DATA_FILES);
  const files = orderDataFiles(
    found.map((uri) => vscode.workspace.asRelativePath(uri, false)),
    remembered,
  );
  if (remembered !== undefined && !files.includes(remembered)) {
    files.unshift(remembered); // outside the workspace, or not found yet: still offered
  }
  const browse = "\u0000browse";
  const items: Picked<string>[] = files.map((file) => ({ label: path.basename(file), description: path.dirname(file) === "." ? "" : path.dirname(file), value: file }));
  items.push({ label: "$(folder-opened) Browse\u2026", detail: "A CSV or Parquet file anywhere", value: browse });
  const choice = await pick(items, title, files.length === 0 ? "No CSV or Parquet file in the workspace: browse for one" : "The data set (CSV or Parquet)");
  if (choice !== browse) {
    return choice;
  }
  const [uri] =
    (await vscode.window.showOpenDialog({
      title,
      canSelectMany: false,
      openLabel: "Use this data",
      defaultUri: vscode.workspace.workspaceFolders?.[0]?.uri,
      filters: { "Data sets": ["csv", "parquet", "pq"] },
    })) ?? [];
  if (uri === undefined) {
    return undefined;
  }
  if (!isDataFile(uri.fsPath)) {
    void vscode.window.showErrorMessage("ML Workbench: a report reads a CSV or Parquet file.");
    return undefined;
  }
  const relative = vscode.workspace.asRelativePath(uri, false);
  return path.isAbsolute(relative) ? uri.fsPath : relative;
}

async function inspect(target: WorkspaceClient, data: string): Promise<DataColumn[] | undefined> {
  try {
    const result = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Window, title: `Reading the columns of ${path.basename(data)}` },
      () => request(target.client, Requests.INSPECT_DATA, { workspaceUri: target.workspaceUri, data }),
    );
    if (result.columns.length === 0) {
      void vscode.window.showErrorMessage(`ML Workbench: ${data} has no columns.`);
      return undefined;
    }
    return result.columns;
  } catch (error) {
    void vscode.window.showErrorMessage(`ML Workbench: cannot read ${data}: ${error instanceof Error ? error.message : String(error)}`);
    return undefined;
  }
}

async function pickColumn(candidates: Candidate[], title: string, placeHolder: string): Promise<string | undefined> {
  return pick(
    candidates.map((c) => ({ label: c.name, description: c.description, value: c.name })),
    title,
    placeHolder,
  );
}

/** At least one column, the remembered ones ticked; asks again when none is ticked. */
async function pickSensitive(candidates: Candidate[], title: string): Promise<string[] | undefined> {
  if (candidates.length === 0) {
    void vscode.window.showErrorMessage("ML Workbench: the data has no column besides the target to group by.");
    return undefined;
  }
  let placeHolder = "Columns whose groups the model should treat alike (few groups are listed first)";
  for (;;) {
    const picked = await vscode.window.showQuickPick(
      candidates.map((c) => ({ label: c.name, description: c.description, picked: c.picked })),
      { title, placeHolder, canPickMany: true, ignoreFocusOut: true, matchOnDescription: true },
    );
    if (picked === undefined) {
      return undefined;
    }
    if (picked.length > 0) {
      return picked.map((item) => item.label);
    }
    placeHolder = "Tick at least one sensitive feature (Space ticks the highlighted column)";
  }
}

async function askRows(title: string, remembered?: string): Promise<string | undefined> {
  const text = await vscode.window.showInputBox({
    title,
    prompt: "Row numbers in the data set to explain one by one, comma-separated (0 is the first data row)",
    value: remembered ?? "0",
    ignoreFocusOut: true,
    validateInput: (value) => {
      const parsed = parseRows(value);
      return "error" in parsed ? parsed.error : undefined;
    },
  });
  if (text === undefined) {
    return undefined;
  }
  const parsed = parseRows(text);
  return "rows" in parsed ? parsed.rows : undefined;
}

/** Remembered answers of the privacy commands (one set per workspace; the ranges go with `data`). */
interface PrivacyChoices {
  data?: string;
  epsilon?: string;
  synthesizer?: string;
  sql?: string;
  bounds?: string;
}

/**
 * The public ranges of `data`'s numeric columns ("" for none: the verb then spends part of
 * epsilon estimating them), or undefined when the user cancelled. Never read off the data: a
 * range taken from the rows would leak them.
 */
export async function askBounds(target: WorkspaceClient, data: string, remembered: string): Promise<string | undefined> {
  const columns = await inspect(target, data);
  if (columns === undefined) {
    return undefined;
  }
  const numeric = columns.filter((column) => column.numeric).map((column) => column.name);
  if (numeric.length === 0) {
    return "";
  }
  const text = await vscode.window.showInputBox({
    title: `Public ranges of ${path.basename(data)}'s numeric columns`,
    prompt:
      `Ranges anyone may know (not read off the data), as COLUMN=LOW:HIGH for ${numeric.join(", ")}. ` +
      "Values outside are clamped. Leave empty to spend part of epsilon estimating them.",
    placeHolder: numeric.map((name) => `${name}=LOW:HIGH`).join(", "),
    value: remembered,
    ignoreFocusOut: true,
    validateInput: (value) => {
      const parsed = parseBounds(value, numeric);
      return "error" in parsed ? parsed.error : undefined;
    },
  });
  if (text === undefined) {
    return undefined;
  }
  const parsed = parseBounds(text, numeric);
  return "bounds" in parsed ? parsed.bounds : undefined;
}

function recallPrivacy(state: vscode.Memento): PrivacyChoices {
  const value = state.get<unknown>(PRIVACY_KEY);
  if (typeof value !== "object" || value === null) {
    return {};
  }
  const entries = Object.entries(value).filter((entry): entry is [string, string] => typeof entry[1] === "string");
  const choices: PrivacyChoices = Object.fromEntries(entries);
  return choices;
}

async function askEpsilon(title: string, remembered: string | undefined, prompt: string): Promise<number | undefined> {
  const text = await vscode.window.showInputBox({
    title,
    prompt,
    value: remembered ?? "1.0",
    ignoreFocusOut: true,
    validateInput: (value) => {
      const parsed = parseEpsilon(value);
      return "error" in parsed ? parsed.error : undefined;
    },
  });
  if (text === undefined) {
    return undefined;
  }
  const parsed = parseEpsilon(text);
  return "epsilon" in parsed ? parsed.epsilon : undefined;
}

/** The synthesizers `mlworkbench privacy synth --synthesizer` implements (it names aim and mwem too, not yet made). */
export const SYNTHESIZERS: readonly { id: string; label: string; detail: string }[] = [
  { id: "mst", label: "MST", detail: "Noisy marginals on a maximum spanning tree of the columns (OpenDP): good on categorical data" },
];

/** Data, ranges, epsilon and synthesizer of `mlworkbench privacy synth`. */
export async function askPrivacySynth(target: WorkspaceClient, state: vscode.Memento): Promise<ReportRequest | undefined> {
  const remembered = recallPrivacy(state);
  const data = await askDataFile("Private synthetic data: data set", remembered.data);
  if (data === undefined) {
    return undefined;
  }
  const bounds = await askBounds(target, data, data === remembered.data ? (remembered.bounds ?? "") : "");
  if (bounds === undefined) {
    return undefined;
  }
  const epsilon = await askEpsilon(
    "Private synthetic data: epsilon",
    remembered.epsilon,
    "The privacy loss to spend on this data set (> 0; smaller is more private and noisier). It counts against the data set's budget.",
  );
  if (epsilon === undefined) {
    return undefined;
  }
  // A choice of one is no choice: the step shows once there are several.
  const synthesizer =
    SYNTHESIZERS.length === 1
      ? SYNTHESIZERS[0].id
      : await pick(
          SYNTHESIZERS.map((s) => ({ label: s.label, detail: s.detail, value: s.id })),
          "Private synthetic data: synthesizer",
          "How the synthetic rows are made",
          remembered.synthesizer,
        );
  if (synthesizer === undefined) {
    return undefined;
  }
  await state.update(PRIVACY_KEY, { ...remembered, data, bounds, epsilon: String(epsilon), synthesizer });
  return { kind: "privacy-synth", data, options: { epsilon, synthesizer, ...(bounds ? { bounds } : {}) } };
}

/** Data, ranges, epsilon and SQL of `mlworkbench privacy query`. */
export async function askPrivacyQuery(target: WorkspaceClient, state: vscode.Memento): Promise<ReportRequest | undefined> {
  const remembered = recallPrivacy(state);
  const data = await askDataFile("Private query: data set", remembered.data);
  if (data === undefined) {
    return undefined;
  }
  const bounds = await askBounds(target, data, data === remembered.data ? (remembered.bounds ?? "") : "");
  if (bounds === undefined) {
    return undefined;
  }
  const epsilon = await askEpsilon(
    "Private query: epsilon",
    remembered.epsilon,
    "The privacy loss the query may spend (> 0; smaller is more private and noisier). It counts against the data set's budget.",
  );
  if (epsilon === undefined) {
    return undefined;
  }
  const sql = await vscode.window.showInputBox({
    title: "Private query: SQL",
    prompt: "One SELECT over the table `data` with counts, sums or means (answered with calibrated noise)",
    value: remembered.sql ?? "SELECT COUNT(*) FROM data",
    ignoreFocusOut: true,
    validateInput: checkSql,
  });
  if (sql === undefined) {
    return undefined;
  }
  await state.update(PRIVACY_KEY, { ...remembered, data, bounds, epsilon: String(epsilon), sql: sql.trim() });
  return { kind: "privacy-query", data, options: { epsilon, sql: sql.trim(), ...(bounds ? { bounds } : {}) } };
}
