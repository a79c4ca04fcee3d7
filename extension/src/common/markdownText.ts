// Text from a tracking store or a run (model descriptions, tags, run names, logs) placed inside
// a Markdown tooltip: escaped so it always shows literally — never a link, `command:` URI,
// image, HTML, heading or list. No `vscode` import, so node:test covers it.
//
// MarkdownString.appendText escapes too, but not `<`, `.`, `:` or `@`, so a bare URL or e-mail
// address from the store still becomes a link; escaping every ASCII punctuation character (all
// of which CommonMark lets a backslash escape) leaves nothing for a renderer to turn into syntax.
// Use these with a MarkdownString that has supportThemeIcons, supportHtml and isTrusted off.

const ASCII_PUNCTUATION = /[!-/:-@[-`{-~]/g;

// Controls and invisible format characters (bidi overrides, zero-width spaces) carry no
// meaning a reader can see, so they show as their code point instead.
const INVISIBLE = /[\p{Cc}\p{Cf}\u2028\u2029]/gu;

function codePointText(char: string): string {
  return `U+${(char.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, "0")}`;
}

/** Plain text as Markdown that renders as exactly that text (line breaks kept). */
export function escapeMarkdown(text: string): string {
  return text
    .split(/\r\n|\r|\n/)
    .map((line) =>
      line
        .replace(/[\t\v\f]/g, " ")
        .replace(INVISIBLE, codePointText)
        .replace(ASCII_PUNCTUATION, "\\$&")
        // Leading blanks would start an indented code block; non-breaking spaces keep the indent.
        .replace(/^ +/, (blanks) => "&nbsp;".repeat(blanks.length)),
    )
    .join("\\\n"); // a hard line break inside one paragraph
}

function longestRun(text: string, char: string): number {
  let longest = 0;
  let current = 0;
  for (const c of text) {
    current = c === char ? current + 1 : 0;
    longest = Math.max(longest, current);
  }
  return longest;
}

/** Text as an inline code span, whatever backticks it holds (a longer fence encloses them). */
export function markdownCode(text: string): string {
  const oneLine = text.replace(/\r\n|\r|\n/g, " ").replace(INVISIBLE, codePointText);
  const fence = "`".repeat(longestRun(oneLine, "`") + 1);
  // CommonMark strips one space each side when both are there, so padding is invisible.
  return `${fence} ${oneLine} ${fence}`;
}

/** Text as a fenced code block, with a fence no line of the text can close. */
export function markdownCodeBlock(text: string, language = "text"): string {
  const body = text.replace(/\r\n|\r/g, "\n").replace(INVISIBLE, (c) => (c === "\n" || c === "\t" ? c : codePointText(c)));
  const fence = "`".repeat(Math.max(3, longestRun(body, "`") + 1));
  return `\n${fence}${language}\n${body}\n${fence}\n`;
}
