// A new home's warehouse from a template: PostgreSQL's initdb inside WebAssembly takes 5-15 s, most of a new
// home's first ingest. It runs once per machine (per PGlite version and schema) into a template
// data directory with the schema in it, kept in the user's cache; each new home's warehouse is a
// copy of it (about 25 MB in 400 files: 0.05-0.1 s), never a fresh initdb.
import { createHash } from "node:crypto";
import { constants, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { mkdir, rename, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { homedir, tmpdir } from "node:os";
import { dirname, join } from "node:path";

/** Where templates are kept: `$COFFEETL_CACHE_DIR`, else `$XDG_CACHE_HOME/coffeetl`, else `~/.cache/coffeetl`. */
export function cacheDir(): string {
  if (process.env.COFFEETL_CACHE_DIR) return process.env.COFFEETL_CACHE_DIR;
  if (process.env.XDG_CACHE_HOME) return join(process.env.XDG_CACHE_HOME, "coffeetl");
  const home = homedir();
  return home ? join(home, ".cache", "coffeetl") : join(tmpdir(), "coffeetl-cache");
}

export function pgliteVersion(): string {
  try {
    const require = createRequire(import.meta.url);
    const main = require.resolve("@electric-sql/pglite");
    // dist/index.cjs → the package's own package.json
    const pkg = JSON.parse(readFileSync(join(dirname(main), "..", "package.json"), "utf8")) as { version: string };
    return pkg.version;
  } catch {
    return "unknown";
  }
}

/**
 * The template's folder for this PGlite and these schema statements: a change to either is a new
 * template, so a home never starts from a stale schema or another engine's files.
 */
export function templatePath(schema: readonly string[], root = cacheDir()): string {
  const hash = createHash("sha256").update(pgliteVersion()).update("\0").update(schema.join("\0")).digest("hex").slice(0, 16);
  return join(root, `warehouse-${pgliteVersion()}-${hash}`);
}

/** A data directory is complete when PostgreSQL's version file is in it (written by initdb). */
export const isDataDir = (dir: string) => existsSync(join(dir, "PG_VERSION"));

/**
 * The template data directory, made now if missing: `make(dir)` runs initdb and the schema in an
 * empty folder and closes the database cleanly. Made aside and renamed into place, so a process
 * killed halfway leaves no half template, and two processes making it at once both end with one.
 */
export async function ensureTemplate(schema: readonly string[], make: (dir: string) => Promise<void>, root = cacheDir()): Promise<string> {
  const path = templatePath(schema, root);
  if (isDataDir(path)) return path;
  await mkdir(root, { recursive: true });
  const aside = `${path}.making-${process.pid}-${Date.now()}`;
  try {
    await make(aside);
    await rename(aside, path).catch(async (error: NodeJS.ErrnoException) => {
      // Another process put its template in place first: use that one.
      if (!isDataDir(path)) throw error;
    });
  } finally {
    await rm(aside, { recursive: true, force: true }).catch(() => undefined);
  }
  return path;
}

/**
 * Copies the template into `dataDir` (which must not hold a database): aside, then renamed.
 * Synchronous, file by file (a reflink where the file system has them): fs.promises.cp took
 * 0.4-0.5 s for the 1,000 small files of a template with template0 and template1 in it, this 0.12 s.
 */
export async function copyTemplate(template: string, dataDir: string): Promise<void> {
  const aside = `${dataDir}.copying-${process.pid}`;
  await rm(aside, { recursive: true, force: true });
  copyTree(template, aside);
  await rm(dataDir, { recursive: true, force: true }); // an empty folder, or one left by a failed start
  await rename(aside, dataDir);
}

function copyTree(from: string, to: string): void {
  mkdirSync(to, { recursive: true });
  for (const entry of readdirSync(from, { withFileTypes: true })) {
    const source = join(from, entry.name);
    if (entry.isDirectory()) copyTree(source, join(to, entry.name));
    else copyFileSync(source, join(to, entry.name), constants.COPYFILE_FICLONE);
  }
}
