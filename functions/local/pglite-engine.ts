// How the embedded engine starts, apart from PGlite itself (node built-ins only), so a command can
// start compiling PGlite's WebAssembly before it loads the rest of its code (cli/home.ts).
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import v8 from "node:v8";

/**
 * How the embedded engine starts, chosen by the work (measured by `npm run bench`):
 * - `light` (a few statements, a day file): V8's baseline WebAssembly compiler only (Liftoff; no
 *   optimizing tier-up competing for the CPU) and small shared memory (PostgreSQL zeroes it at
 *   every start; the default 145 MB took 0.1-1 s). Starts in about half the time, with 130 MB less memory.
 * - `heavy` (a backfill, a big file): V8's default tiering and 128 MB of buffers; a 100k-sale
 *   load ran 1.4x slower on Liftoff alone.
 */
export type EngineMode = "light" | "heavy";

export const pgliteDist = () => dirname(createRequire(import.meta.url).resolve("@electric-sql/pglite"));

/**
 * PGlite's 9 MB WebAssembly module, compiled once per process and mode (a process opening several
 * warehouses, like the demo or a test suite, compiles it once). V8's tiering flags apply to what is
 * compiled after they are set, so each mode sets them just before its compilation. V8 compiles on
 * background threads: started early (warmEngine), it overlaps the loading of the command's code.
 */
const compiled = new Map<EngineMode, Promise<WebAssembly.Module>>();
// The global WebAssembly object (this project's TypeScript lib declares its types, not the value).
const wasm = (globalThis as unknown as { WebAssembly: { compile(bytes: Uint8Array): Promise<WebAssembly.Module> } }).WebAssembly;
export function pgliteModule(mode: EngineMode): Promise<WebAssembly.Module> {
  let module = compiled.get(mode);
  if (!module) {
    const bytes = readFile(join(pgliteDist(), "pglite.wasm"));
    module = bytes.then((b) => {
      v8.setFlagsFromString(mode === "light" ? "--liftoff-only" : "--no-liftoff-only");
      // Functions are validated when first compiled (lazily, as V8 compiles them), not all at once: PGlite's own module, trusted.
      v8.setFlagsFromString("--wasm-lazy-validation");
      return wasm.compile(b);
    });
    compiled.set(mode, module);
  }
  return module;
}

/** Starts compiling the module for `mode` without waiting; a failure surfaces when the warehouse opens. */
export function warmEngine(mode: EngineMode): void {
  pgliteModule(mode).catch(() => undefined);
}
