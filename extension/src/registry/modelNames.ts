// Names in the model registry: what the input boxes accept and suggest, checked as the user
// types with the same rules the library applies (mlworkbench.registry.model_registry), so a bad name is
// caught before a round trip. Pure (no vscode import): unit-tested in extension/test.
import { ModelVersionInfo, RunSummary } from "../protocol";

const RESERVED_ALIAS = /^(latest|v\d+)$/i;
// Python's \w, as MLflow checks it: any letter or digit, not only ASCII.
const ALIAS_CHARS = /^[\p{L}\p{N}_-]+$/u;

/** Why `name` cannot be a registered model's name, or undefined when it can. */
export function modelNameProblem(name: string): string | undefined {
  if (!name.trim()) {
    return "Enter a model name.";
  }
  if (name !== name.trim()) {
    return "A model name cannot start or end with spaces.";
  }
  if (name.includes("/") || name.includes(":")) {
    return "A model name cannot contain '/' or ':'.";
  }
  return undefined;
}

/** Why `alias` cannot be a model alias, or undefined when it can. */
export function aliasProblem(alias: string): string | undefined {
  if (!alias) {
    return "Enter an alias, such as champion or staging.";
  }
  if (RESERVED_ALIAS.test(alias)) {
    return "MLflow reserves 'latest' and 'v<number>' for its own model URIs; choose another alias.";
  }
  if (!ALIAS_CHARS.test(alias)) {
    return "Use only letters, digits, underscores (_) and dashes (-).";
  }
  return undefined;
}

/** A registry name suggested for a run's model: its script's name, else its experiment's. */
export function suggestModelName(run: Pick<RunSummary, "script" | "experiment_name"> | undefined): string {
  const script = run?.script?.split(/[\\/]/).pop()?.replace(/\.py$/i, "");
  const base = script || (run?.experiment_name && run.experiment_name !== "Default" ? run.experiment_name : "");
  const cleaned = base.replace(/[/:]/g, "-").trim();
  return cleaned || "model";
}

/** The one-line description of a version in the Models view: its aliases, else its status. */
export function describeVersion(version: Pick<ModelVersionInfo, "aliases" | "status">): string {
  if (version.aliases.length > 0) {
    return version.aliases.map((alias) => `@${alias}`).join(" ");
  }
  return version.status === "READY" ? "" : version.status.toLowerCase();
}

/** The models a SEVERAL_MODELS_IN_RUN error offers to choose from (its `data.models`). */
export function modelChoices(data: unknown): string[] {
  const models = (data as { models?: unknown } | undefined)?.models;
  return Array.isArray(models) ? models.filter((m): m is string => typeof m === "string") : [];
}
