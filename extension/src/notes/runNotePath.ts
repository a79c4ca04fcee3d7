// Where a run's note lives as an editor document: `mlworkbench-note:/<run id>/<run name>.md`.
// The tab shows the run's name, Markdown gets its highlighting and preview, and the run id comes
// back from whatever path the editor hands the file system. Pure, so node:test covers it.

export const NOTE_SCHEME = "mlworkbench-note";

/** MLflow run ids are hex uuids; anything else in the first segment is not one of ours. */
const RUN_ID = /^[A-Za-z0-9_-]{1,64}$/;

/** The document path of `runId`'s note, its file name made from the run's name. */
export function notePath(runId: string, runName: string): string {
  if (!RUN_ID.test(runId)) {
    throw new Error(`not a run id: ${JSON.stringify(runId)}`);
  }
  // Separators and control characters would split or garble the path; dots at the start would
  // hide it. What is left is only a label: the run id alone says which run it is.
  const label = runName.replace(/[\\/\u0000-\u001f\u007f:*?"<>|]+/g, "_").replace(/^[.\s]+|\s+$/g, "").slice(0, 80);
  return `/${runId}/${label || "run"} note.md`;
}

/** The run id in a note's path, or undefined when the path is not a note's. */
export function runIdOfNotePath(path: string): string | undefined {
  const parts = path.split("/");
  if (parts.length !== 3 || parts[0] !== "" || !parts[2].endsWith(".md") || !RUN_ID.test(parts[1])) {
    return undefined;
  }
  return parts[1];
}
