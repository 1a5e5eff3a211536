#!/usr/bin/env node
// `npm test`: type-checks, then runs every tests/**/*.test.ts in its own process (uvu suites,
// isolated so Pulumi mocks and warehouses never share state), two at a time.
// Ends with `N passed, N failed` and exits non-zero on any failure or when no test ran.
import { spawn } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const filter = process.argv.slice(2);
const files = [];
(function walk(dir) {
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path);
    else if (name.endsWith(".test.ts")) files.push(path);
  }
})(join(root, "tests"));
// Matched against the path under the repository (tests/...), never the checkout's own folder name.
const selected = filter.length ? files.filter((f) => filter.some((x) => relative(root, f).includes(x))) : files;

function run(cmd, args) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: root, env: { ...process.env, FORCE_COLOR: "0", NO_COLOR: "1" } });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    child.on("close", (code) => resolve({ code, out }));
  });
}

let passed = 0;
let failed = 0;
let skipped = 0;

if (!filter.length) {
  const tsc = await run(process.execPath, [join(root, "node_modules/typescript/bin/tsc"), "--noEmit", "-p", root]);
  if (tsc.code === 0) {
    passed++;
    console.log("✔ typecheck (tsc --noEmit)");
  } else {
    failed++;
    console.log("✘ typecheck (tsc --noEmit)\n" + tsc.out);
  }
}

const queue = [...selected];
async function worker() {
  for (let file = queue.shift(); file; file = queue.shift()) {
    const started = Date.now();
    const { code, out } = await run(process.execPath, ["--import", "tsx", file]);
    const num = (label) => Number((new RegExp(`${label}:\\s+(\\d+)`).exec(out) ?? [])[1] ?? NaN);
    const total = num("Total");
    const ok = num("Passed");
    const skip = num("Skipped") || 0;
    const name = relative(root, file);
    const secs = ((Date.now() - started) / 1000).toFixed(1);
    if (Number.isNaN(total) || Number.isNaN(ok)) {
      failed++;
      console.log(`✘ ${name}: no uvu summary (exit ${code}, ${secs}s)\n${out}`);
      continue;
    }
    passed += ok;
    skipped += skip;
    // uvu's Total leaves skipped tests out; a crash after the summary still counts as a failure.
    const bad = Math.max(0, total - ok) + (code !== 0 && total === ok ? 1 : 0);
    failed += bad;
    const notes = out
      .split("\n")
      .filter((l) => /^\s*(skip|SKIP)\b/.test(l) || l.includes("[skip]"))
      .map((l) => "    " + l.trim());
    console.log(`${bad ? "✘" : "✔"} ${name}: ${ok}/${total} passed${skip ? `, ${skip} skipped` : ""} (${secs}s)`);
    if (notes.length) console.log(notes.join("\n"));
    if (bad) console.log(out);
  }
}
await Promise.all([worker(), worker()]);

console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ""}`);
process.exit(failed > 0 || passed === 0 ? 1 : 0);
