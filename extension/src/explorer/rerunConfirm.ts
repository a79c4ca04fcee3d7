// What Rerun and Debug Run ask before they start a script with arguments taken from a run. Those
// arguments come from the run's tags in the tracking store (`mlworkbench.argv`), which whoever
// ships or writes the store controls, so the user sees each one — quoted, invisible characters
// spelled out, long lists cut with a count — and picks Run, Edit Arguments… or Escape.
// No `vscode` import, so node:test covers it; runActions.ts shows the prompt.

export const EDIT_ARGUMENTS = "Edit Arguments…";
export const MAX_SHOWN_ARGUMENTS = 20;
export const MAX_ARGUMENT_CHARS = 200;

export type RerunMode = "rerun" | "debug";
export type ArgumentsDecision = "run" | "edit" | "cancel";

/** The modal's text and buttons: `message` is its title, `detail` the body. */
export interface ArgumentsPrompt {
  message: string;
  detail: string;
  confirm: string;
  edit: string;
}

/** Only arguments from the run need a look: without any, the script runs as it would from its own Run lens. */
export function needsArgumentsConfirmation(args: readonly string[] | null | undefined): boolean {
  return (args?.length ?? 0) > 0;
}

// Everything that is not a visible character or a plain space: controls (newlines, ANSI
// escapes), format characters (bidi overrides, zero-width spaces) and other spaces (a
// non-breaking space would pass for the gap between two arguments).
const HIDDEN = /[\p{Cc}\p{Cf}\p{Z}]/u;

function escapeChar(char: string): string {
  switch (char) {
    case '"':
      return '\\"';
    case "\\":
      return "\\\\";
    case "\n":
      return "\\n";
    case "\r":
      return "\\r";
    case "\t":
      return "\\t";
    case " ":
      return " ";
  }
  if (!HIDDEN.test(char)) {
    return char;
  }
  const code = char.codePointAt(0) ?? 0;
  return code <= 0xffff ? `\\u${code.toString(16).padStart(4, "0")}` : `\\u{${code.toString(16)}}`;
}

/**
 * One argument as the user should read it: in double quotes (so spaces, and an empty argument,
 * show), with quotes, backslashes and hidden characters escaped; past `maxChars` characters cut,
 * saying how many more there are.
 */
export function quoteArgument(arg: string, maxChars = MAX_ARGUMENT_CHARS): string {
  const chars = [...arg];
  const shown = chars.slice(0, maxChars).map(escapeChar).join("");
  const rest = chars.length - maxChars;
  return rest > 0 ? `"${shown}"… (${rest} more character${rest === 1 ? "" : "s"})` : `"${shown}"`;
}

/** The argument lines of the prompt: one quoted argument per line, at most `maxShown`. */
export function argumentLines(args: readonly string[], maxShown = MAX_SHOWN_ARGUMENTS): string[] {
  const lines = args.slice(0, maxShown).map((arg) => `  ${quoteArgument(arg)}`);
  const rest = args.length - maxShown;
  if (rest > 0) {
    lines.push(`  … and ${rest} more argument${rest === 1 ? "" : "s"} not shown`);
  }
  return lines;
}

/** A name from the store (script path, run name) with its hidden characters spelled out. */
function visible(text: string, maxChars: number): string {
  return quoteArgument(text, maxChars).replace(/^"|"$/g, "");
}

/**
 * The modal for starting `script` (workspace-relative) with `args` recorded on run `runName`.
 */
export function argumentsPrompt(mode: RerunMode, script: string, runName: string, args: readonly string[]): ArgumentsPrompt {
  const verb = mode === "debug" ? "Debug" : "Rerun";
  const count = `${args.length} argument${args.length === 1 ? "" : "s"}`;
  return {
    message: `${verb} ${visible(script, 120)} with the ${count} recorded on run ${quoteArgument(runName, 80)}?`,
    detail: [
      "These arguments come from the run's tags in the tracking store, which anyone who writes to the store (or ships it with a repository) can set. Check them before the script starts.",
      "",
      `Script: ${visible(script, 500)}`,
      `Arguments (${args.length}):`,
      ...argumentLines(args),
    ].join("\n"),
    confirm: mode === "debug" ? "Debug" : "Run",
    edit: EDIT_ARGUMENTS,
  };
}

/** What the button the user chose means; Escape or the dialog's Cancel give `undefined`. */
export function decisionOf(prompt: ArgumentsPrompt, choice: string | undefined): ArgumentsDecision {
  if (choice === prompt.confirm) {
    return "run";
  }
  return choice === prompt.edit ? "edit" : "cancel";
}
