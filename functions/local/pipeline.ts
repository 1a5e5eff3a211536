// The whole pipeline on one machine: folders stand in for the two buckets, PostgreSQL (embedded
// PGlite by default) for Redshift, and `ingest` for the S3 events. The services are the Lambdas'.
// One process at a time per home (a lock file, proper-lockfile): PGlite must never be opened by two.
import { randomBytes } from "node:crypto";
import { mkdir, readFile, readdir, realpath, stat, writeFile } from "node:fs/promises";
import { join, relative, resolve, sep } from "node:path";
import lockfile from "proper-lockfile";
import { loadManifests } from "../app/load-manifests.js";
import { silentLog, type Log } from "../app/log.js";
import type { Warehouse } from "../app/ports.js";
import { transformObject } from "../app/transform-object.js";
import { keyFingerprint } from "../core/keys.js";
import { REJECTS_FILE, WARNINGS_FILE, type LineNote } from "../core/manifest.js";
import { FolderStorage } from "./folder-storage.js";
import { PostgresWarehouse } from "./postgres-warehouse.js";

export interface LocalPipelineOptions {
  /** State folder: buckets, warehouse data and the local transaction-id key. */
  home: string;
  /** A PostgreSQL server instead of the embedded warehouse. */
  databaseUrl?: string;
  /**
   * A file holding the transaction-id key (default `$COFFEETL_KEY_FILE`); `$COFFEETL_TRANSACTION_KEY`
   * gives the key itself. Without either, the key made once under the home folder.
   */
  keyFile?: string;
  /** Worker threads per transform; by default as many as help for each file's size. */
  threads?: number | undefined;
  /** Manifests per load transaction (default `$COFFEETL_LOAD_BATCH`, else 500; at most 200,000 sales either way). */
  maxBatch?: number;
  log?: Log;
  /** Called once when another process holds the home and this one waits for it (default: a line on stderr). */
  onWait?: (message: string) => void;
  /** How long to wait for a home another process holds (default 1 hour); 0 fails at once. */
  waitMs?: number;
}

export interface FileReport {
  path: string;
  key: string;
  ok: boolean;
  /** Why the file failed; rows are never quoted. */
  error?: string;
  rowsRead: number;
  salesNew: number;
  duplicates: number;
  rejected: number;
  warnings: number;
  durationMs: number;
  /** Where the transformed files are (folder of the transformed bucket). */
  prefix?: string;
  /** The file listing rejected rows (line and reason), when there are any. */
  rejectsPath?: string;
  /** The file listing lines loaded with a warning (line and reason), when there are any. */
  warningsPath?: string;
  /** The first rejected lines and warnings (line and reason, never content), for display. */
  firstRejects?: LineNote[];
  firstWarnings?: LineNote[];
  /** Worker threads the transform used (0: the main thread). */
  threads?: number;
  /** The raw file's encoding when it was not UTF-8 (decoded, with a warning). */
  encoding?: string;
  /** The earlier load of the same key this file's load replaced. */
  supersededLoadId?: string;
}

export interface IngestHooks {
  onFileStart?(path: string, size: number): void;
  onProgress?(path: string, bytesRead: number, size: number): void;
  /** A load of these files' manifests starts, `rows` raw rows in all (cli progress display). */
  onLoadStart?(paths: string[], rows: number): void;
  onFileDone?(report: FileReport): void;
}

export interface LocalPipeline {
  home: string;
  raw: FolderStorage;
  transformed: FolderStorage;
  warehouse: Warehouse;
  /** Fingerprint of the transaction-id key in use. */
  keyFingerprint: string;
  ingest(paths: string[], hooks?: IngestHooks): Promise<FileReport[]>;
  close(): Promise<void>;
}

export const KEY_ENV = "COFFEETL_TRANSACTION_KEY";
export const KEY_FILE_ENV = "COFFEETL_KEY_FILE";
const HOME_KEY_FILE = "transaction-id.key";

/** The transaction-id key: given (environment or key file), else made once under the home folder. */
async function transactionKey(home: string, keyFile: string | undefined): Promise<{ key: string; source: string }> {
  const given = process.env[KEY_ENV]?.trim();
  if (given) return { key: given, source: `$${KEY_ENV}` };
  const file = keyFile ?? process.env[KEY_FILE_ENV];
  if (file) {
    const key = (await readFile(file, "utf8").catch((e: Error) => {
      throw new Error(`key file ${file}: ${e.message}`);
    })).trim();
    if (key.length < 16) throw new Error(`key file ${file}: holds ${key.length} characters; a transaction-id key needs at least 16`);
    return { key, source: `key file ${file}` };
  }
  const path = join(home, HOME_KEY_FILE);
  try {
    return { key: (await readFile(path, "utf8")).trim(), source: path };
  } catch {
    const secret = randomBytes(32).toString("hex");
    await writeFile(path, secret + "\n", { mode: 0o600, flag: "wx" }).catch(() => {});
    return { key: (await readFile(path, "utf8")).trim(), source: path };
  }
}

const LOCK_STALE_MS = 5 * 60_000;

/**
 * Takes the home's lock, waiting (and saying so once) while another process holds it. The lock's
 * mtime is refreshed every 10 s; one untouched for 5 minutes (a killed process) is taken over.
 * (PGlite may hold the event loop for a long statement, hence the long staleness.)
 */
async function lockHome(home: string, waitMs: number, onWait: (message: string) => void): Promise<() => Promise<void>> {
  const options = {
    lockfilePath: join(home, "home.lock"),
    stale: LOCK_STALE_MS,
    update: 10_000,
    onCompromised: (error: Error) => {
      // Another process may now think the home is free: stop before touching the warehouse again.
      console.error(`coffeetl: lost the lock on ${home} (${error.message}); stopping`);
      process.exit(75);
    },
  };
  try {
    return await lockfile.lock(home, options);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ELOCKED") throw error;
  }
  const busy = `${home} is in use by another coffeetl command`;
  if (waitMs <= 0) throw new Error(`${busy}; try again when it has finished`);
  onWait(`${busy}; waiting for it to finish...`);
  const deadline = Date.now() + waitMs;
  for (;;) {
    await new Promise((r) => setTimeout(r, 250));
    try {
      return await lockfile.lock(home, options);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ELOCKED") throw error;
      if (Date.now() > deadline) throw new Error(`${busy}; gave up after waiting ${Math.round(waitMs / 1000)} s`);
    }
  }
}

/** A raw key for a file outside the raw folder: its real absolute path, without the leading separator. */
const keyOfPath = (path: string): string => path.split(sep).filter(Boolean).join("/");

/**
 * Files to ingest with their raw keys (cli). A file's key is its real absolute path, so the same file
 * gets the same key however it is named on the command line, and files of one name in different
 * folders never collide (`a/uploads/day.csv`, `b/uploads/day.csv`). A file inside the raw folder
 * (`rawRoot`) keeps its raw key, so raw files can be run through again. Each key comes once.
 */
export async function expandPaths(paths: string[], rawRoot?: string): Promise<Array<{ path: string; key: string }>> {
  const rawReal = rawRoot ? await realpath(rawRoot).catch(() => resolve(rawRoot)) : undefined;
  const found = new Map<string, string>();
  const add = (path: string) => {
    const inRaw = rawReal && path.startsWith(rawReal + sep);
    const key = inRaw ? relative(rawReal, path).split(sep).join("/") : keyOfPath(path);
    if (!found.has(key)) found.set(key, path);
  };
  for (const given of paths) {
    const path = await realpath(resolve(given)).catch(() => {
      throw new Error(`${given}: no such file or folder`);
    });
    const info = await stat(path);
    if (!info.isDirectory()) {
      add(path);
      continue;
    }
    const walk = async (dir: string): Promise<void> => {
      for (const entry of (await readdir(dir, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
        const child = join(dir, entry.name);
        if (entry.isDirectory()) await walk(child);
        else if (entry.name.toLowerCase().endsWith(".csv")) add(child);
      }
    };
    await walk(path);
  }
  return [...found].map(([key, path]) => ({ path, key }));
}

/** Files under this size are transformed up to SMALL_FILES_AT_ONCE at a time (a branch's day is ~50 KB). */
const SMALL_FILE_BYTES = 1024 * 1024;
const SMALL_FILES_AT_ONCE = 4;

/** Sales per load transaction locally: batches stay a few seconds long and memory stays flat. */
const BATCH_SALES = 200_000;

export async function openLocalPipeline(options: LocalPipelineOptions): Promise<LocalPipeline> {
  const home = resolve(options.home);
  await mkdir(home, { recursive: true });
  const onWait = options.onWait ?? ((message: string) => process.stderr.write(`coffeetl: ${message}\n`));
  const release = await lockHome(home, options.waitMs ?? 60 * 60_000, onWait);
  try {
    return await openLocked(home, options, release);
  } catch (error) {
    await release().catch(() => undefined);
    throw error;
  }
}

async function openLocked(home: string, options: LocalPipelineOptions, release: () => Promise<void>): Promise<LocalPipeline> {
  const log = options.log ?? silentLog;
  const raw = new FolderStorage(join(home, "raw"));
  const transformed = new FolderStorage(join(home, "transformed"));
  const { key: secret, source: keySource } = await transactionKey(home, options.keyFile);
  const fingerprint = keyFingerprint(secret);
  const warehouse = await PostgresWarehouse.open(
    options.databaseUrl ? { databaseUrl: options.databaseUrl } : { dataDir: join(home, "warehouse") },
  );
  try {
    await warehouse.ensureSchema();
  } catch (error) {
    await warehouse.close().catch(() => undefined);
    throw error;
  }
  const keyHint =
    `This machine's key (fingerprint ${fingerprint}) is from ${keySource}. Give it the warehouse's key: ` +
    `set ${KEY_ENV} to the key, or pass --key-file FILE (or set ${KEY_FILE_ENV}); without either, the key made once in ${join(home, HOME_KEY_FILE)} is used`;

  // No Data API limit here: a backfill's batches are bounded by their sales (BATCH_SALES) instead.
  const maxBatch = options.maxBatch ?? (Number(process.env.COFFEETL_LOAD_BATCH) || 500);

  interface Pending {
    report: FileReport;
    started: number;
    transformMs: number;
    manifestKey?: string;
    sales: number;
  }

  async function transformOne({ path, key }: { path: string; key: string }, hooks: IngestHooks): Promise<Pending> {
    const started = Date.now();
    const report: FileReport = { path, key, ok: false, rowsRead: 0, salesNew: 0, duplicates: 0, rejected: 0, warnings: 0, durationMs: 0 };
    try {
      if (!key.toLowerCase().endsWith(".csv")) throw new Error("not a .csv file");
      const { size } = await stat(path);
      hooks.onFileStart?.(path, size);
      // The upload: the raw bucket keeps the file as given, never changed afterwards (a file taken
      // from the raw folder itself, by reprocess, is not copied onto itself).
      if (path !== raw.path(key)) await raw.putFile(key, path);
      const outcome = await transformObject(
        { raw, transformed, secret, log, workers: options.threads, onProgress: hooks.onProgress && ((read, total) => hooks.onProgress!(path, read, total)) },
        key,
      );
      Object.assign(report, {
        prefix: outcome.prefix,
        threads: outcome.workers,
        ...(outcome.manifest.rejected ? { rejectsPath: transformed.path(`${outcome.prefix}/${REJECTS_FILE}`) } : {}),
        ...(outcome.manifest.warnings ? { warningsPath: transformed.path(`${outcome.prefix}/${WARNINGS_FILE}`) } : {}),
        firstRejects: outcome.manifest.firstRejects ?? [],
        firstWarnings: outcome.manifest.firstWarnings ?? [],
        ...(outcome.manifest.encoding ? { encoding: outcome.manifest.encoding } : {}),
      });
      return { report, started, transformMs: Date.now() - started, manifestKey: outcome.manifestKey, sales: outcome.manifest.rows.transactions };
    } catch (error) {
      report.error = (error as Error).message.replace(`${key}: `, "");
      await warehouse
        .recordOutcome({ sourceKey: key, stage: "transform", outcome: "failed", reason: report.error })
        .catch((e: Error) => log.error("could not record the failure", { key, error: e.message }));
      return { report, started, transformMs: Date.now() - started, sales: 0 };
    }
  }

  /** Loads the pending files' manifests in batches, then reports every pending file in order. */
  async function flush(pending: Pending[], hooks: IngestHooks): Promise<void> {
    const toLoad = pending.filter((p) => p.manifestKey);
    if (toLoad.length) hooks.onLoadStart?.(toLoad.map((p) => p.report.path), toLoad.reduce((n, p) => n + p.sales, 0));
    const started = Date.now();
    const outcomes = await loadManifests({ transformed, warehouse, log, keyHint }, toLoad.map((p) => p.manifestKey!), { maxBatch });
    const loadMs = Date.now() - started;
    const totalSales = toLoad.reduce((n, p) => n + p.sales, 0) || 1;
    for (const [i, outcome] of outcomes.entries()) {
      const { report, sales } = toLoad[i]!;
      if (!outcome.ok) {
        report.error = outcome.error!;
        continue;
      }
      const r = outcome.result!;
      Object.assign(report, {
        ok: true,
        rowsRead: r.rowsRead,
        salesNew: r.transactionsNew,
        duplicates: r.transactionsDuplicate,
        rejected: r.rowsRejected,
        warnings: r.warnings,
        ...(r.supersededLoadId ? { supersededLoadId: r.supersededLoadId } : {}),
      });
      // The batch's load time, shared out by sales.
      report.durationMs = Math.round((sales / totalSales) * loadMs);
    }
    for (const p of pending) {
      p.report.durationMs += p.transformMs;
      hooks.onFileDone?.(p.report);
    }
  }

  let closed = false;
  return {
    home,
    raw,
    transformed,
    warehouse,
    keyFingerprint: fingerprint,
    async ingest(paths, hooks = {}) {
      const reports: FileReport[] = [];
      let pending: Pending[] = [];
      let sales = 0;
      // Files are transformed one by one as before; their manifests load in batches.
      const files = await expandPaths(paths, raw.name);
      const sizes = await Promise.all(files.map((f) => stat(f.path).then((s) => s.size, () => 0)));
      for (let next = 0; next < files.length; ) {
        // Small files go a few at a time: their transform is mostly waiting on the file system.
        // A large one goes alone (it has worker threads and the progress display to itself).
        let end = next + 1;
        while (end < files.length && end - next < SMALL_FILES_AT_ONCE && sizes[next]! < SMALL_FILE_BYTES && sizes[end]! < SMALL_FILE_BYTES) end++;
        const done = await Promise.all(files.slice(next, end).map((file) => transformOne(file, hooks)));
        next = end;
        for (const p of done) {
          pending.push(p);
          reports.push(p.report);
          sales += p.sales;
        }
        if (sales >= BATCH_SALES || pending.length >= maxBatch) {
          await flush(pending, hooks);
          pending = [];
          sales = 0;
        }
      }
      if (pending.length) await flush(pending, hooks);
      return reports;
    },
    async close() {
      if (closed) return;
      closed = true;
      try {
        await warehouse.close();
      } finally {
        await release();
      }
    },
  };
}
