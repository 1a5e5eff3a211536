// cli/ingest.ts's pure part: the paths given to `ingest` split into those that exist and those that do
// not (reported as missing while the others still load), in the order given.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { splitMissing } from "../cli/ingest.js";
import { tempDir } from "./helpers.js";

const dir = await tempDir("coffeetl-ingest-split-");

test("present files and folders in order; missing ones apart, as given", () => {
  writeFileSync(join(dir.path, "a.csv"), "x\n");
  mkdirSync(join(dir.path, "tills"));
  const paths = [join(dir.path, "a.csv"), join(dir.path, "gone.csv"), join(dir.path, "tills"), join(dir.path, "tills", "none.csv")];
  assert.equal(splitMissing(paths), { present: [paths[0], paths[2]], missing: [paths[1], paths[3]] });
  assert.equal(splitMissing([]), { present: [], missing: [] });
});

test("relative paths are resolved from the working directory", () => {
  const cwd = process.cwd();
  try {
    process.chdir(dir.path);
    assert.equal(splitMissing(["a.csv", "b.csv"]), { present: ["a.csv"], missing: ["b.csv"] });
  } finally {
    process.chdir(cwd);
  }
});

test.after(() => dir.remove());
test.run();
