#!/usr/bin/env node
// Runs the CLI: the esbuild bundle in dist/cli/ (`npm run build:cli`, also run by `npm ci`) while it
// is newer than every source it was built from, else the TypeScript itself through tsx's loader, so
// an edit is never run stale and an installed CLI never compiles TypeScript at start-up.
import { readFileSync, statSync } from "node:fs";

const dist = new URL("../dist/cli/", import.meta.url);

function bundleIsFresh() {
  try {
    const { builtAt, inputs } = JSON.parse(readFileSync(new URL("inputs.json", dist), "utf8"));
    return inputs.every((input) => statSync(new URL(input, dist)).mtimeMs < builtAt);
  } catch {
    return false; // not built, or a source was removed: run from source
  }
}

if (process.env.COFFEETL_FROM_SOURCE !== "1" && bundleIsFresh()) {
  await import(new URL("main.js", dist).href);
} else {
  const { register } = await import("tsx/esm/api");
  register();
  await import("../cli/main.ts");
}
