import { strict as assert } from "node:assert";
import { test } from "node:test";
import { notePath, runIdOfNotePath } from "../src/notes/runNotePath";

const id = "0123456789abcdef0123456789abcdef";

test("a note's path names the run and gives its id back", () => {
  const path = notePath(id, "ridge-a");
  assert.equal(path, `/${id}/ridge-a note.md`);
  assert.equal(runIdOfNotePath(path), id);
});

test("separators, control characters and leading dots in a run name cannot reshape the path", () => {
  for (const name of ["../../etc/passwd", "a\\b", "tab\there", "..hidden", "x:y*z?", "line\nbreak"]) {
    const path = notePath(id, name);
    assert.equal(path.split("/").length, 3, path);
    assert.equal(runIdOfNotePath(path), id, path);
    assert.ok(!/[\u0000-\u001f]/.test(path), path);
    assert.ok(!path.split("/")[2].startsWith("."), path);
  }
});

test("an empty or all-separator name still gives a file name", () => {
  assert.equal(notePath(id, ""), `/${id}/run note.md`);
  assert.equal(notePath(id, "///"), `/${id}/_ note.md`);
});

test("a long name is cut, the id is kept whole", () => {
  const path = notePath(id, "n".repeat(500));
  assert.ok(path.length < 140, path);
  assert.equal(runIdOfNotePath(path), id);
});

test("paths that are not notes give no run id", () => {
  for (const path of ["/", `/${id}`, `/${id}/x.txt`, `/${id}/a/b.md`, "/not an id/x.md", `${id}/x.md`, "/../x.md"]) {
    assert.equal(runIdOfNotePath(path), undefined, path);
  }
});

test("a run id that could escape the path is refused", () => {
  assert.throws(() => notePath("../x", "n"), /not a run id/);
  assert.throws(() => notePath("", "n"), /not a run id/);
});
