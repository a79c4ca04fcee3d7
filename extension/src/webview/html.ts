// The one place webview HTML is written. Every page is a fixed shell: a strict
// Content-Security-Policy, one bundled stylesheet and one bundled script carrying a fresh nonce,
// and an empty root the script fills. Data (run names, metric keys) never enters this HTML: it
// travels by postMessage and the webview sets it as textContent. No vscode import, so it is
// unit-tested directly.
import { randomBytes } from "crypto";

/** 128 random bits, base64: a new one for every render, as CSP nonces must not repeat. */
export function createNonce(): string {
  return randomBytes(16).toString("base64");
}

/** For text content, and for attribute values in either kind of quotes. */
export function escapeHtml(text: string): string {
  return text
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&#39;");
}

/** For attribute values in double quotes: leaves the policy's 'single quotes' readable. */
function escapeAttribute(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/**
 * Nothing loads unless listed: styles, images and fonts only from the extension's own files,
 * scripts only with this render's nonce. No 'unsafe-inline' and no 'unsafe-eval': the charts run
 * Vega's expression interpreter instead of generated code, and styles are set through the CSSOM
 * or constructable stylesheets, which the policy allows.
 */
export function contentSecurityPolicy(cspSource: string, nonce: string): string {
  return [
    "default-src 'none'",
    `img-src ${cspSource} data:`,
    `style-src ${cspSource}`,
    `script-src 'nonce-${nonce}'`,
    `font-src ${cspSource}`,
  ].join("; ");
}

export interface WebviewPage {
  /** `webview.cspSource` */
  cspSource: string;
  nonce: string;
  /** Webview URIs (`webview.asWebviewUri`) of the bundled script and stylesheets. */
  scriptUri: string;
  styleUris: readonly string[];
  /** The document title (assistive technology reads it); escaped, but keep it static. */
  title: string;
}

export function buildWebviewHtml(page: WebviewPage): string {
  const styles = page.styleUris.map((uri) => `    <link rel="stylesheet" href="${escapeAttribute(uri)}">`);
  return [
    "<!DOCTYPE html>",
    '<html lang="en">',
    "  <head>",
    '    <meta charset="UTF-8">',
    `    <meta http-equiv="Content-Security-Policy" content="${escapeAttribute(contentSecurityPolicy(page.cspSource, page.nonce))}">`,
    '    <meta name="viewport" content="width=device-width, initial-scale=1.0">',
    ...styles,
    `    <title>${escapeHtml(page.title)}</title>`,
    "  </head>",
    "  <body>",
    '    <main id="root"></main>',
    `    <script nonce="${escapeAttribute(page.nonce)}" src="${escapeAttribute(page.scriptUri)}"></script>`,
    "  </body>",
    "</html>",
    "",
  ].join("\n");
}
