// Turns a script's parsed parameters and the values a person typed into an argument list.
// Pure (no vscode import) so the rules are unit-tested: flags keep their spelling, booleans are
// flags without a value, positionals come first, untouched defaults are left to the script.
import { ScriptParameter } from "../protocol";

export type ParameterValues = Record<string, string>;

export function defaultValue(p: ScriptParameter): string {
  if (p.default === null || p.default === "None") {
    return "";
  }
  // Strip the quotes of a string literal default: the user edits the value, not Python source.
  const quoted = /^(['"])(.*)\1$/.exec(p.default);
  return quoted ? quoted[2] : p.default;
}

export function buildArgs(parameters: ScriptParameter[], values: ParameterValues): string[] {
  const positional: string[] = [];
  const optional: string[] = [];
  for (const p of parameters) {
    const value = values[p.name];
    if (value === undefined || value === defaultValue(p)) {
      if (p.required && p.flags.length === 0 && value !== undefined) {
        positional.push(value);
      }
      continue;
    }
    if (p.flags.length === 0) {
      positional.push(value);
      continue;
    }
    const flag = p.flags.find((f) => f.startsWith("--")) ?? p.flags[0];
    if (p.type === "bool") {
      // A store_true/store_false flag flips its default; reaching here means it differs.
      optional.push(flag);
      continue;
    }
    if (value !== "") {
      optional.push(flag, value);
    }
  }
  return [...positional, ...optional];
}

export function describeArgs(args: string[]): string {
  return args.length ? args.join(" ") : "(defaults)";
}
