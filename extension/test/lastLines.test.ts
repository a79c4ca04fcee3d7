import { strict as assert } from "node:assert";
import { test } from "node:test";
import { LastLines } from "../src/common/lastLines";

test("joins chunks split mid-line and keeps the last lines", () => {
  const lines = new LastLines(2);
  lines.push("first\nsec");
  lines.push("ond\r\nthird\n");
  assert.deepEqual(lines.all(), ["second", "third"]);
  assert.equal(lines.last(), "third");
});

test("an unterminated line counts as the last one; blank lines do not", () => {
  const lines = new LastLines();
  lines.push("Traceback\n\n  \nModuleNotFoundError: No module named 'pygls'");
  assert.equal(lines.last(), "ModuleNotFoundError: No module named 'pygls'");
  lines.clear();
  assert.equal(lines.last(), undefined);
});
