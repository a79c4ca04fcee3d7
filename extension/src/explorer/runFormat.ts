// Words for runs in lists (tree, quick picks, status bar). Pure, so they are unit-tested.
import * as path from "path";
import { RunSummary } from "../protocol";

export function formatNumber(value: number): string {
  return Number.isInteger(value) ? String(value) : value.toPrecision(4);
}

export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) {
    return `${s}s`;
  }
  const m = Math.floor(s / 60);
  return m < 60 ? `${m}m ${s % 60}s` : `${Math.floor(m / 60)}h ${m % 60}m`;
}

/** "train_iris.py · 12s · accuracy 0.9737" */
export function describeRun(run: RunSummary, now: number): string {
  const parts: string[] = [];
  if (run.script) {
    parts.push(path.basename(run.script));
  }
  if (run.start_time) {
    parts.push(formatDuration((run.end_time ?? now) - run.start_time));
  }
  const key = run.primary_metric;
  if (key !== null && run.metrics[key] !== undefined) {
    parts.push(`${key} ${formatNumber(run.metrics[key])}`);
  }
  return parts.join(" · ");
}

/** "12 runs", "3 of 12 runs"; a count marked not known is a lower bound ("5,000+"): a page a
 * tracking server answered while the server's run cache still loads (MLflow counts nothing). */
export function countText(
  matching: number,
  all: number,
  narrowed: boolean,
  matchingKnown = true,
  allKnown = true,
): string {
  const shown = (count: number, known: boolean): string => `${count}${known ? "" : "+"}`;
  if (narrowed) {
    return `${shown(matching, matchingKnown)} of ${shown(all, allKnown)} runs`;
  }
  return allKnown ? `${all} run${all === 1 ? "" : "s"}` : `${shown(all, false)} runs`;
}
