#!/usr/bin/env node
// Builds the CLI with esbuild into dist/cli/ (run by npm's `prepare`, so `npm ci` leaves a built CLI):
// bin/coffeetl.js runs this bundle while it is fresher than every source it was built from, and the
// TypeScript through tsx otherwise, so a run never pays for compiling TypeScript (~0.4 s) and an edit
// is never run stale. Packages stay external (loaded from node_modules as they are); dynamic imports
// become chunks, so `--help` never loads PGlite and only `upload`/`redrive` load the AWS SDK.
import { build } from "esbuild";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { join, relative } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const outdir = join(root, "dist/cli");

const started = Date.now();
await rm(outdir, { recursive: true, force: true });
await mkdir(outdir, { recursive: true });
const result = await build({
  absWorkingDir: root,
  // The transform's worker threads load `transform-worker.js` from beside the module that starts them.
  // The warm warehouse's keeper, a process of its own, is started from `warm-keeper.js` beside the module that starts it.
  entryPoints: { main: "cli/main.ts", "transform-worker": "functions/core/engine/transform-worker.ts", "warm-keeper": "functions/local/warm-keeper.ts" },
  outdir,
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node22",
  packages: "external",
  sourcemap: "linked",
  metafile: true,
  logLevel: "warning",
});
// The sources the bundle was built from, for bin/coffeetl.js's freshness check (a few dozen stats).
const inputs = Object.keys(result.metafile.inputs).map((input) => relative(outdir, join(root, input)));
await writeFile(join(outdir, "inputs.json"), JSON.stringify({ builtAt: started, inputs }) + "\n");
