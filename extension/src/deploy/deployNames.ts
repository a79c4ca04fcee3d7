// Names the deploy commands ask for — an image tag, a Kubernetes resource name — checked as the
// user types with the grammars the library applies (mlworkbench.deploy.build_context and
// k8s_manifests), so a bad name is caught before a round trip; and the defaults they suggest.
// Pure (no vscode import): unit-tested in extension/test.

// distribution/reference's grammar, the one the Docker engine applies.
const COMPONENT = "[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*";
const HOST_PART = "[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?";
const DOMAIN = `(?:${HOST_PART}(?:\\.${HOST_PART})*|\\[[0-9a-fA-F:]+\\])(?::[0-9]+)?`;
const NAME = `(?:${DOMAIN}/)?${COMPONENT}(?:/${COMPONENT})*`;
const TAG = "[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}";
const DIGEST = "sha256:[a-f0-9]{64}";
const REFERENCE = new RegExp(`^(${NAME})(?::(${TAG}))?(?:@(${DIGEST}))?$`);
const TAG_ONLY = new RegExp(`^${TAG}$`);
const MAX_NAME = 255;

/** A Service's name is a DNS-1035 label; the Deployment and HPA share it. */
const DNS_1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
export const MAX_RESOURCE_NAME = 63;

const EXAMPLE_TAG = "mlworkbench-iris:1a2b3c4d";

/** `text` as a lower-case slug of letters, digits and single dashes ("" when nothing is left). */
export function slugOf(text: string, maxLength = 40): string {
  const slug = text
    .normalize("NFKD")
    .replace(/[\u0300-\u036f]/g, "") // accents off, so "é" becomes "e" rather than a dash
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "");
  return slug.slice(0, maxLength).replace(/-+$/, "");
}

/** The tag a run's image gets unless the user changes it: `mlworkbench-<run name>:<run id[:8]>`. */
export function defaultImageTag(runName: string, runId: string): string {
  const name = slugOf(runName) || "model";
  const tag = runId.replace(/[^A-Za-z0-9_.-]/g, "").slice(0, 8) || "latest";
  return `mlworkbench-${name}:${tag}`;
}

/**
 * Why `value` cannot name an image, or undefined when it can. `allowDigest` for an image to
 * run (name@sha256:…); a build names a tag, never a digest.
 */
export function imageReferenceProblem(value: string, allowDigest = false): string | undefined {
  if (value.trim() === "") {
    return `Enter an image name, such as ${EXAMPLE_TAG}.`;
  }
  if (/\s/.test(value)) {
    return "An image name cannot contain spaces.";
  }
  const match = REFERENCE.exec(value);
  if (match) {
    if (match[3] !== undefined && !allowDigest) {
      return "Name the image with a tag (NAME:TAG), not a digest (@sha256:…).";
    }
    return (match[1] ?? "").length > MAX_NAME ? `The name before the tag is longer than ${MAX_NAME} characters.` : undefined;
  }
  return diagnoseReference(value, allowDigest);
}

/** Which part of a reference the grammar refused, in words. */
function diagnoseReference(value: string, allowDigest: boolean): string {
  const at = value.indexOf("@");
  const beforeDigest = at >= 0 ? value.slice(0, at) : value;
  if (at >= 0 && (!allowDigest || !new RegExp(`^${DIGEST}$`).test(value.slice(at + 1)))) {
    return allowDigest ? "A digest is @sha256: followed by 64 lower-case hex digits." : "Name the image with a tag (NAME:TAG), not a digest (@sha256:…).";
  }
  const lastSlash = beforeDigest.lastIndexOf("/");
  const colon = beforeDigest.indexOf(":", lastSlash + 1);
  const name = colon >= 0 ? beforeDigest.slice(0, colon) : beforeDigest;
  const tag = colon >= 0 ? beforeDigest.slice(colon + 1) : undefined;
  if (tag !== undefined && !TAG_ONLY.test(tag)) {
    if (tag === "") {
      return "Add a tag after ':' or remove the ':'.";
    }
    return tag.length > 128
      ? "The tag after ':' is longer than 128 characters."
      : "The tag after ':' may use letters, digits, '_', '.' and '-', and cannot start with '.' or '-'.";
  }
  const path = name.split("/");
  // The first part may be a registry host (it has a dot or a port, or is localhost).
  const host = path.length > 1 && /[.:]|^localhost$/.test(path[0] ?? "") ? path.shift() : undefined;
  if (host !== undefined && !new RegExp(`^${DOMAIN}$`).test(host)) {
    return `'${host}' is not a registry host (host[:port]).`;
  }
  if (path.some((part) => /[A-Z]/.test(part))) {
    return "Repository names must be lower case (the tag after ':' may have capitals).";
  }
  if (path.some((part) => part === "")) {
    return "The name has an empty part between '/' separators.";
  }
  return `Use lower-case letters and digits, with '.', '_', '__' or '-' only between them (e.g. ${EXAMPLE_TAG}).`;
}

/** The repository part of an image reference: no registry path, tag or digest. */
function repositoryOf(image: string): string {
  const withoutDigest = image.split("@")[0] ?? image;
  const lastSlash = withoutDigest.lastIndexOf("/");
  const last = withoutDigest.slice(lastSlash + 1);
  return last.split(":")[0] ?? last;
}

/** A Kubernetes name suggested for an image: its repository's last part as a DNS-1035 label. */
export function defaultResourceName(image: string): string {
  let name = slugOf(repositoryOf(image), MAX_RESOURCE_NAME).replace(/^mlworkbench-(?=.)/, "");
  if (!/^[a-z]/.test(name)) {
    name = `model-${name}`.replace(/-+$/, "");
  }
  return name.slice(0, MAX_RESOURCE_NAME).replace(/-+$/, "");
}

/** Why `name` cannot name the Deployment, Service and HPA, or undefined when it can. */
export function resourceNameProblem(name: string): string | undefined {
  if (name === "") {
    return "Enter a name, such as iris-model.";
  }
  if (name.length > MAX_RESOURCE_NAME) {
    return `A Kubernetes name has at most ${MAX_RESOURCE_NAME} characters (this one has ${name.length}).`;
  }
  if (DNS_1035_LABEL.test(name)) {
    return undefined;
  }
  if (name !== name.toLowerCase()) {
    return "Use lower case: a Kubernetes name is a DNS-1035 label.";
  }
  if (!/^[a-z]/.test(name)) {
    return "Start with a letter (a-z).";
  }
  if (name.endsWith("-")) {
    return "End with a letter or digit, not '-'.";
  }
  return "Use only a-z, 0-9 and '-'.";
}

/** Why `text` is not a replica count, or undefined when it is. */
export function replicasProblem(text: string): string | undefined {
  return /^\s*[1-9]\d{0,2}\s*$/.test(text) ? undefined : "Enter a whole number from 1 to 999.";
}

/** Why `text` is not a disparity limit, or undefined when it is. */
export function disparityProblem(text: string): string | undefined {
  const value = Number(text.trim());
  return text.trim() !== "" && Number.isFinite(value) && value >= 0 && value <= 1
    ? undefined
    : "Enter a number from 0 to 1 (the largest difference between groups the gate lets through).";
}
