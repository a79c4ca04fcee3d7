import { strict as assert } from "node:assert";
import { test } from "node:test";
import { buildWebviewHtml, contentSecurityPolicy, createNonce, escapeHtml } from "../src/webview/html";

const page = {
  cspSource: "https://file+.vscode-resource.vscode-cdn.net",
  nonce: "bm9uY2Vub25jZW5vbmNlMQ==",
  scriptUri: "https://file+.vscode-resource.vscode-cdn.net/ext/media/dist/liveMetrics.js",
  styleUris: ["https://file+.vscode-resource.vscode-cdn.net/ext/media/dist/liveMetrics.css"],
  title: "Live metrics",
};

function cspOf(html: string): string {
  const match = /<meta http-equiv="Content-Security-Policy" content="([^"]*)">/.exec(html);
  assert.ok(match, "the page has a CSP meta tag");
  return match[1];
}

test("the page carries the strict policy with this render's nonce", () => {
  const html = buildWebviewHtml(page);
  const csp = cspOf(html);
  assert.equal(
    csp,
    "default-src 'none'; img-src https://file+.vscode-resource.vscode-cdn.net data:; " +
      "style-src https://file+.vscode-resource.vscode-cdn.net; script-src 'nonce-bm9uY2Vub25jZW5vbmNlMQ=='; " +
      "font-src https://file+.vscode-resource.vscode-cdn.net",
  );
  assert.equal(csp, contentSecurityPolicy(page.cspSource, page.nonce));
  assert.doesNotMatch(csp, /unsafe/);
});

test("every script tag carries the nonce, and there is no inline script or style", () => {
  const html = buildWebviewHtml(page);
  const scripts = [...html.matchAll(/<script\b[^>]*>/g)].map((m) => m[0]);
  assert.equal(scripts.length, 1);
  assert.equal(scripts[0], `<script nonce="${page.nonce}" src="${page.scriptUri}">`);
  assert.match(html, /<script [^>]*><\/script>/, "the script element is empty");
  assert.doesNotMatch(html, /<style|\sstyle=|\son\w+=/i);
  assert.match(html, new RegExp(`<link rel="stylesheet" href="${page.styleUris[0].replace(/[.+]/g, "\\$&")}">`));
});

test("the title is escaped", () => {
  const html = buildWebviewHtml({ ...page, title: '</title><script>alert("x")</script>' });
  assert.match(html, /<title>&lt;\/title&gt;&lt;script&gt;alert\(&quot;x&quot;\)&lt;\/script&gt;<\/title>/);
  assert.equal([...html.matchAll(/<script\b/g)].length, 1);
});

test("attribute values cannot break out of their quotes", () => {
  const html = buildWebviewHtml({ ...page, scriptUri: 'x" onload="alert(1)' });
  assert.doesNotMatch(html, /onload="/);
  assert.match(html, /src="x&quot; onload=&quot;alert\(1\)"/);
});

test("nonces are fresh, long and base64", () => {
  const nonces = new Set(Array.from({ length: 100 }, createNonce));
  assert.equal(nonces.size, 100);
  for (const nonce of nonces) {
    assert.match(nonce, /^[A-Za-z0-9+/]{22}==$/);
  }
});

test("escapeHtml escapes the five special characters", () => {
  assert.equal(escapeHtml(`<a href="x">'&'</a>`), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
});
