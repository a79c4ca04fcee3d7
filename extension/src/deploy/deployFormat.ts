// The words and text the deploy commands show: a build's summary, a test request's answer (the
// status, the time, the body pretty-printed) and which written file to open. Pure, unit-tested.
import type { BuildImageResult, InvokeContainerResult } from "../protocol";
import { megabytes } from "./deploymentItems";

const REASONS: Record<number, string> = {
  200: "OK",
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  413: "Payload Too Large",
  415: "Unsupported Media Type",
  422: "Unprocessable Entity",
  429: "Too Many Requests",
  500: "Internal Server Error",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
};

export function statusLine(status: number): string {
  const reason = REASONS[status];
  return reason ? `${status} ${reason}` : String(status);
}

export function duration(seconds: number): string {
  if (seconds < 60) {
    return `${seconds < 10 ? seconds.toFixed(1) : Math.round(seconds)} s`;
  }
  const minutes = Math.floor(seconds / 60);
  return `${minutes} min ${Math.round(seconds - minutes * 60)} s`;
}

/** A body as indented JSON when it is JSON, else as it came. */
export function prettyBody(body: string): string {
  try {
    return JSON.stringify(JSON.parse(body), null, 2);
  } catch {
    return body;
  }
}

/** The one-line summary of a finished build, smoke test included. */
export function buildSummary(result: BuildImageResult): string {
  let text = `Built ${result.tag} (${megabytes(result.sizeBytes)}) in ${duration(result.buildSeconds)}.`;
  const smoke = result.smoke;
  if (smoke) {
    text += smoke.predictionsMatch
      ? ` The container was healthy after ${duration(smoke.healthyAfterS)} and its predictions match the model's.`
      : ` The container was healthy after ${duration(smoke.healthyAfterS)}, but its predictions differ from the model's: see the log.`;
  }
  return text;
}

export interface ResponseTarget {
  name: string;
  url?: string;
}

/**
 * The answer document: a JSONC header (status, time, container) over the body, so it reads as
 * JSON with comments. A 4xx is shown the same way: its body carries the container's reason.
 */
export function formatResponse(result: InvokeContainerResult, target: ResponseTarget, at: Date): string {
  const where = target.url ? `${target.name} (${target.url})` : target.name;
  const header = [
    `// HTTP ${statusLine(result.status)} \u00b7 ${result.elapsedMs.toFixed(result.elapsedMs < 10 ? 1 : 0)} ms`,
    `// ${where} \u00b7 POST /invocations \u00b7 ${at.toISOString()}`,
  ];
  if (result.status >= 400 && result.status < 500) {
    header.push("// The container refused the request: its reason is below.");
  }
  return `${header.join("\n")}\n${prettyBody(result.body)}\n`;
}

/** The file to open after writing manifests: the Deployment's, else the first written. */
export function deploymentFile(files: readonly string[]): string | undefined {
  return files.find((file) => /(^|[\\/])deployment\.ya?ml$/i.test(file)) ?? files[0];
}
