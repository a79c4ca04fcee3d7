import assert from "node:assert/strict";
import { test } from "node:test";
import { escapeMarkdown, markdownCode, markdownCodeBlock } from "../src/common/markdownText";

// A CommonMark renderer with HTML and bare-URL links on: stricter than VS Code's hovers, so text
// that comes out literal here comes out literal there (markdown-it: a devDependency).
interface MarkdownIt {
  render(source: string): string;
}
// eslint-disable-next-line @typescript-eslint/no-require-imports
const markdownIt = require("markdown-it") as (options: object) => MarkdownIt;
const renderer = markdownIt({ html: true, linkify: true });

/** The rendered HTML's text, if it is one paragraph of text and line breaks; else the HTML. */
function renderedText(markdown: string): string {
  const html = renderer.render(markdown);
  const paragraph = /^<p>([\s\S]*)<\/p>\n$/.exec(html);
  const inner = paragraph?.[1];
  if (inner === undefined || /<(?!br>)/.test(inner)) {
    return `not plain text: ${html}`;
  }
  return inner
    .replace(/<br>\n/g, "\n")
    .replace(/\u00a0/g, " ")
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&amp;/g, "&");
}

const HOSTILE = [
  "[x](command:workbench.action.terminal.new)",
  "![](http://evil/img.png)",
  "<img src=x onerror=alert(1)>",
  "<a href='command:workbench.action.terminal.new'>click</a>",
  "`code` and ``more``",
  "**bold** _em_ ~~strike~~",
  "# heading",
  "> quote",
  "- item",
  "1. item",
  "    indented code",
  "| a | b |",
  "http://evil.example/x and www.evil.example and someone@evil.example",
  "<http://evil.example>",
  "[ref]\n\n[ref]: command:workbench.action.terminal.new",
  "$(zap) theme icon",
  "&lt;entity&gt; &amp;",
  "setext\n===",
  "line one\nline two\n\nafter a blank line",
  "ends with a backslash \\",
  "```\nfenced\n```",
];

test("escaped store text renders as exactly that text: no link, image, HTML or block", () => {
  for (const text of HOSTILE) {
    assert.equal(renderedText(escapeMarkdown(text)), text, `for ${JSON.stringify(text)}`);
  }
});

test("escapeMarkdown leaves no link, command URI or image syntax in the Markdown", () => {
  const escaped = escapeMarkdown("[x](command:workbench.action.terminal.new) ![](http://evil/img.png) <img src=x>");
  assert.equal(
    escaped,
    "\\[x\\]\\(command\\:workbench\\.action\\.terminal\\.new\\) \\!\\[\\]\\(http\\:\\/\\/evil\\/img\\.png\\) \\<img src\\=x\\>",
  );
  assert.doesNotMatch(renderer.render(escaped), /<a |<img/);
});

test("escapeMarkdown spells out controls and bidi overrides instead of passing them on", () => {
  assert.equal(renderedText(escapeMarkdown("red\u001b[31m \u202eevil")), "redU+001B[31m U+202Eevil");
  assert.equal(renderedText(escapeMarkdown("a\r\nb\rc")), "a\nb\nc");
});

test("markdownCode keeps any backticks inside one code span", () => {
  for (const text of ["abc123", "a`b", "``x``", "`start", "end`", "[x](command:y) <img src=x>"]) {
    const html = renderer.render(markdownCode(text));
    const code = /^<p><code>([\s\S]*)<\/code><\/p>\n$/.exec(html)?.[1];
    assert.equal(code?.replace(/&lt;/g, "<").replace(/&gt;/g, ">"), text, `for ${JSON.stringify(text)}: ${html}`);
  }
  assert.equal(markdownCode("two\nlines"), "` two lines `");
});

test("markdownCodeBlock cannot be closed early by the text it holds", () => {
  const tail = "Traceback\n```\n[x](command:workbench.action.terminal.new)\n````\n<img src=x>";
  const html = renderer.render(markdownCodeBlock(tail));
  const body = /^<pre><code class="language-text">([\s\S]*)<\/code><\/pre>\n$/.exec(html)?.[1];
  assert.equal(body?.replace(/&lt;/g, "<").replace(/&gt;/g, ">"), `${tail}\n`, html);
  assert.match(markdownCodeBlock("x\u001by"), /xU\+001By/);
});
