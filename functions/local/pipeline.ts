// The whole pipeline on one machine: folders stand in for the two buckets, PostgreSQL (embedded
// PGlite by default) for Redshift, and `ingest` for the S3 events. The services are the Lambdas'.
// One process at a time per home (a lock file, proper-lockfile): PGlite must never be opened by two.
import { HOME_KEY_FILE, HOME_MARKER, warehouseDir } from "./home-marker.js";
import { randomBytes } from "node:crypto";
import { appendFile, chmod, mkdir, readFile, readdir, realpath, rm, stat, utimes, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { basename, join, relative, resolve, sep } from "node:path";
import lockfile from "proper-lockfile";
import { loadManifests, type ManifestOutcome } from "../app/load-manifests.js";
import { writeWithdrawal } from "../app/withdraw.js";
import { silentLog, type Log } from "../app/log.js";
import type { FileOutcome, LoadResult, Warehouse } from "../app/ports.js";
import { failureOutcome, recordTransformFailure } from "../app/record-failure.js";
import { TransformFailedError } from "../app/transform-failure.js";
import { transformObject } from "../app/transform-object.js";
import { keyFingerprint, keyWeakness } from "../core/keys.js";
import { REJECTS_FILE, WARNINGS_FILE, type LineNote } from "../core/manifest.js";
import { FolderStorage, processAlive } from "./folder-storage.js";
import { PostgresWarehouse, type EngineMode } from "./postgres-warehouse.js";
import { LOCAL_BATCH_SALES, LOCAL_MANIFESTS_PER_TRANSACTION, SMALL_FILE_BYTES, SMALL_FILES_AT_ONCE } from "../core/limits.js";

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
  /** Opened to read the warehouse only: the transaction-id key is not needed, nor checked. */
  readOnly?: boolean;
  /** The embedded warehouse's start, by the work to come (postgres-warehouse.ts; default heavy). */
  engine?: EngineMode;
  /** False: the command runs only the project's own statements, so PGlite need not read array types (postgres-warehouse.ts). */
  arrayTypes?: boolean;
  /** Light work only: keep the embedded warehouse open between commands for this many idle seconds (the warm warehouse; 0 or absent: not). */
  warmSeconds?: number;
}

export interface FileReport {
  path: string;
  key: string;
  ok: boolean;
  /** Why the file failed; rows are never quoted. */
  error?: string;
  rowsRead: number;
  transactionsNew: number;
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
  /** What the load did: `superseded` (an older version than the loaded one: nothing changed), `withdrawn` (no rows: the file's sales are gone). */
  outcome?: LoadResult["outcome"];
  /** For `superseded`: the newer load that stays. */
  newerLoadId?: string;
}

interface IngestHooks {
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
  warehouse: PostgresWarehouse;
  /** Fingerprint of the transaction-id key in use. */
  keyFingerprint: string;
  ingest(paths: string[], hooks?: IngestHooks): Promise<FileReport[]>;
  /** Withdraws raw keys' current versions (`coffeetl forget`): a version with no rows loaded over each. */
  withdraw(keys: string[]): Promise<ManifestOutcome[]>;
  close(): Promise<void>;
}

const TRANSACTION_ID_KEY_ENV = "COFFEETL_TRANSACTION_KEY";
const KEY_FILE_ENV = "COFFEETL_KEY_FILE";
/** The fingerprint of the key a home's files were keyed with (never the key): a different key is refused. */
const HOME_KEY_FINGERPRINT = "key.fingerprint";

/** Writes a file only this user can read (a home holds raw sales with names and card numbers). */
async function writePrivate(path: string, content: string, flag = "w"): Promise<void> {
  await writeFile(path, content, { mode: 0o600, flag });
  await chmod(path, 0o600);
}

/** The home folder, made or tightened to 0700: nobody else may read its raw copies or its key. */
async function makeHome(home: string): Promise<void> {
  await mkdir(home, { recursive: true, mode: 0o700 });
  const info = await stat(home);
  if ((info.mode & 0o077) !== 0 && info.uid === process.getuid?.()) await chmod(home, 0o700);
}

/** Marks the folder as a home (idempotent). */
async function markHome(home: string): Promise<void> {
  const marker = join(home, HOME_MARKER);
  await writePrivate(marker, "A CoffeETL home: raw copies, transformed files and the local warehouse (see README.md).\n", "wx").catch(
    (e: NodeJS.ErrnoException) => {
      if (e.code !== "EEXIST") throw e;
    },
  );
}

/**
 * The transaction-id key: given (environment or key file), else made once under the home folder.
 * Every way meets one minimum (keyWeakness), and a home keeps the key it was first used with: a
 * different one is refused (its sales would get a second id) with how to move the home on purpose.
 */
async function readTransactionIdKey(home: string, keyFile: string | undefined): Promise<{ key: string; source: string }> {
  const homeKey = join(home, HOME_KEY_FILE);
  const recordedPath = join(home, HOME_KEY_FINGERPRINT);
  const given = await givenKey(keyFile);
  let recorded = (await readFile(recordedPath, "utf8").catch(() => "")).trim() || undefined;
  // A home made before the fingerprint was kept: its own key file says which key it has.
  const own = (await readFile(homeKey, "utf8").catch(() => "")).trim() || undefined;
  recorded ??= own ? keyFingerprint(own) : undefined;

  const chosen = given ?? (own ? { key: own, source: homeKey } : undefined);
  if (!chosen && recorded) {
    throw new Error(
      `${home} was keyed with a key given by ${TRANSACTION_ID_KEY_ENV} or a key file (fingerprint ${recorded}), and none is given now: ` +
        `set ${TRANSACTION_ID_KEY_ENV} or pass --key-file FILE with that key (a new key here would give every sale a second id)`,
    );
  }
  const result = chosen ?? { key: randomBytes(32).toString("hex"), source: homeKey };
  const weak = keyWeakness(result.key);
  if (weak) throw new Error(`${result.source}: ${weak}`);
  const fingerprint = keyFingerprint(result.key);
  if (recorded && recorded !== fingerprint) {
    throw new Error(
      `${result.source} holds another key (fingerprint ${fingerprint}) than the one ${home} was keyed with (fingerprint ${recorded}). ` +
        `Give the home's key; or, to move this home to the new key on purpose, delete ${recordedPath}` +
        (own ? ` and ${homeKey}` : "") +
        ` and run again (its files are transformed again with the new key; a warehouse keyed with the old one refuses them)`,
    );
  }
  if (!chosen) await writePrivate(homeKey, result.key + "\n", "wx");
  if (!recorded) await writePrivate(recordedPath, fingerprint + "\n");
  return result;
}

/** The key from $COFFEETL_TRANSACTION_KEY, else from the key file (option or $COFFEETL_KEY_FILE). */
async function givenKey(keyFile: string | undefined): Promise<{ key: string; source: string } | undefined> {
  const variable = process.env[TRANSACTION_ID_KEY_ENV];
  // Set but blank is a mistake (an unset variable in a script), never "make a key".
  if (variable !== undefined && variable !== "") return { key: variable.trim(), source: `$${TRANSACTION_ID_KEY_ENV}` };
  const file = keyFile ?? (process.env[KEY_FILE_ENV] || undefined);
  if (!file) return undefined;
  const key = (
    await readFile(file, "utf8").catch((e: Error) => {
      throw new Error(`key file ${file}: ${e.message}`);
    })
  ).trim();
  return { key, source: `key file ${file}` };
}

/** Outcomes the warehouse could not take (its server gone), kept to be recorded by the next run. */
const OUTCOME_JOURNAL = "unrecorded-outcomes.jsonl";

/**
 * The warehouse with one change: a `file_outcomes` row it cannot write (the server went away) is
 * appended to the home's journal instead of lost, and the next run records it (replayOutcomes).
 */
function withOutcomeJournal(warehouse: Warehouse, journal: string, log: Log): Warehouse {
  return {
    ensureSchema: () => warehouse.ensureSchema(),
    loadBatch: (requests) => warehouse.loadBatch(requests),
    query: (sql) => warehouse.query(sql),
    close: () => warehouse.close(),
    async recordOutcome(outcome) {
      const stamped = { ...outcome, recordedAt: outcome.recordedAt ?? new Date().toISOString() };
      try {
        await warehouse.recordOutcome(stamped);
      } catch (error) {
        log.warn("outcome kept for the next run", { key: outcome.sourceKey, error: (error as Error).message });
        await appendFile(journal, JSON.stringify(stamped) + "\n", { mode: 0o600 });
      }
    },
  };
}

/** Records the outcomes an earlier run could not (a line that fails is logged and dropped), then drops the journal. */
async function replayOutcomes(warehouse: Warehouse, journal: string, log: Log): Promise<void> {
  const text = await readFile(journal, "utf8").catch(() => "");
  if (!text) return;
  for (const entry of text.split("\n").filter(Boolean)) {
    try {
      await warehouse.recordOutcome(JSON.parse(entry) as FileOutcome);
    } catch (error) {
      log.warn("could not replay a kept outcome", { error: (error as Error).message });
    }
  }
  await rm(journal, { force: true });
}

const LOCK_STALE_MS = 5 * 60_000;
/** Who holds a home: written into the lock folder as soon as it is taken. */
const LOCK_OWNER_FILE = "owner.json";

interface LockOwner {
  pid: number;
  host: string;
  command: string;
  since: string;
}

/** The process holding a lock, if it said (it writes this just after taking the lock). */
async function lockOwner(lockDir: string): Promise<LockOwner | undefined> {
  try {
    const owner = JSON.parse(await readFile(join(lockDir, LOCK_OWNER_FILE), "utf8")) as LockOwner;
    return Number.isInteger(owner.pid) ? owner : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Removes a lock whose holder is gone: a process of this machine that no longer exists (found at
 * once), or a lock nobody has refreshed for LOCK_STALE_MS (another machine's, or a reused pid).
 * Serialised by its own mkdir, so two waiters never both remove a lock (the second might remove the
 * first's new one). Returns whether it removed one.
 */
async function removeDeadLock(lockDir: string): Promise<boolean> {
  const guard = `${lockDir}.takeover`;
  try {
    await mkdir(guard);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    // A waiter killed mid-takeover leaves its guard: it is old after a few seconds.
    const age =
      Date.now() -
      (await stat(guard).then(
        (s) => s.mtimeMs,
        () => Date.now(),
      ));
    if (age > 10_000) await rm(guard, { recursive: true, force: true });
    return false;
  }
  try {
    const [owner, modified] = await Promise.all([
      lockOwner(lockDir),
      stat(lockDir).then(
        (s) => s.mtimeMs,
        () => undefined,
      ),
    ]);
    if (modified === undefined) return true; // released meanwhile
    const gone = owner ? owner.host === hostname() && !processAlive(owner.pid) : Date.now() - modified > 30_000; // a holder writes its name at once
    if (!gone && Date.now() - modified <= LOCK_STALE_MS) return false;
    await rm(lockDir, { recursive: true, force: true });
    return true;
  } finally {
    await rm(guard, { recursive: true, force: true });
  }
}

const clock = (iso: string): string => iso.slice(11, 19) + " UTC";
const ago = (iso: string): string => {
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  return s < 120 ? `${s} s ago` : s < 7200 ? `${Math.round(s / 60)} min ago` : `${Math.round(s / 3600)} h ago`;
};

/** "in use by another coffeetl command (coffeetl ingest, pid 4242, since 08:31:02 UTC, 40 s ago)". */
function describeHolder(home: string, owner: LockOwner | undefined): { busy: string; stop: string } {
  const busy = `${home} is in use by another coffeetl command`;
  if (!owner) return { busy, stop: "Ctrl-C stops waiting" };
  const where = owner.host === hostname() ? "" : ` on ${owner.host}`;
  return {
    busy: `${busy} (${owner.command}, pid ${owner.pid}${where}, since ${clock(owner.since)}, ${ago(owner.since)})`,
    stop: `Ctrl-C stops waiting; \`kill ${owner.pid}\`${where ? ` on ${owner.host}` : ""} stops that command`,
  };
}

/** What this process is, for a waiting command's message (the CLI names itself in process.title). */
const thisCommand = (): string => (process.title.startsWith("coffeetl") ? process.title : `node ${process.argv[1] ? basename(process.argv[1]) : ""}`.trim());

/**
 * Takes the home's lock, waiting (and saying once who holds it and how to stop) while another process
 * holds it. The lock's mtime is refreshed every 10 s; a holder whose process is gone from this
 * machine is replaced at once, and any lock untouched for 5 minutes (another machine's) is taken
 * over. (PGlite may hold the event loop for a long statement, hence the long staleness.)
 */
async function lockHome(home: string, waitMs: number, onWait: (message: string) => void): Promise<() => Promise<void>> {
  const lockDir = join(home, "home.lock");
  const options = {
    lockfilePath: lockDir,
    // Staleness is judged by removeDeadLock (the owner file inside makes the folder non-empty).
    stale: 24 * 3600_000,
    update: 10_000,
    onCompromised: (error: Error) => {
      // Another process may now think the home is free: stop before touching the warehouse again.
      console.error(`coffeetl: lost the lock on ${home} (${error.message}); stopping`);
      process.exit(75);
    },
  };
  const take = async (): Promise<(() => Promise<void>) | undefined> => {
    try {
      const release = await lockfile.lock(home, options);
      const owner: LockOwner = { pid: process.pid, host: hostname(), command: thisCommand(), since: new Date().toISOString() };
      // proper-lockfile checks that the folder's mtime is still the one it set: put it back after the write.
      const { atime, mtime } = await stat(lockDir);
      await writeFile(join(lockDir, LOCK_OWNER_FILE), JSON.stringify(owner) + "\n");
      await utimes(lockDir, atime, mtime);
      return async () => {
        await rm(join(lockDir, LOCK_OWNER_FILE), { force: true });
        await release();
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ELOCKED") throw error;
      return (await removeDeadLock(lockDir)) ? take() : undefined;
    }
  };
  const first = await take();
  if (first) return first;
  const { busy, stop } = describeHolder(home, await lockOwner(lockDir));
  if (waitMs <= 0) throw new Error(`${busy}; try again when it has finished`);
  onWait(`${busy}; waiting for it to finish... (${stop})`);
  const deadline = Date.now() + waitMs;
  for (;;) {
    await new Promise((r) => setTimeout(r, 250));
    const taken = await take();
    if (taken) return taken;
    if (Date.now() > deadline) throw new Error(`${busy}; gave up after waiting ${Math.round(waitMs / 1000)} s`);
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

export async function openLocalPipeline(options: LocalPipelineOptions): Promise<LocalPipeline> {
  const home = resolve(options.home);
  await makeHome(home);
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
  await markHome(home);
  // Reading commands (status, sql, dashboards) need no key: a home keyed by a variable opens without it.
  const keyed = options.readOnly ? undefined : await readTransactionIdKey(home, options.keyFile);
  const transactionIdKey = keyed?.key ?? "";
  const keySource = keyed?.source ?? "";
  const fingerprint = keyed ? keyFingerprint(transactionIdKey) : "";
  const opened = await PostgresWarehouse.open(
    options.databaseUrl
      ? { databaseUrl: options.databaseUrl }
      : {
          dataDir: warehouseDir(home),
          ...(options.engine ? { engine: options.engine } : {}),
          ...(options.arrayTypes === false ? { arrayTypes: false } : {}),
          ...(options.warmSeconds ? { warmSeconds: options.warmSeconds } : {}),
        },
  );
  try {
    await opened.ensureSchema();
  } catch (error) {
    await opened.close().catch(() => undefined);
    throw error;
  }
  const warehouse = withOutcomeJournal(opened, join(home, OUTCOME_JOURNAL), log);
  await replayOutcomes(opened, join(home, OUTCOME_JOURNAL), log);
  const keyHint =
    `This machine's key (fingerprint ${fingerprint}) is from ${keySource}. Give it the warehouse's key: ` +
    `set ${TRANSACTION_ID_KEY_ENV} to the key, or pass --key-file FILE (or set ${KEY_FILE_ENV}); without either, the key made once in ${join(home, HOME_KEY_FILE)} is used`;

  // No Data API limit here: a backfill's batches are bounded by their sales (LOCAL_BATCH_SALES) instead.
  const maxBatch = options.maxBatch ?? (Number(process.env.COFFEETL_LOAD_BATCH) || LOCAL_MANIFESTS_PER_TRANSACTION);

  interface Pending {
    report: FileReport;
    started: number;
    transformMs: number;
    manifestKey?: string;
    sales: number;
  }

  async function transformOne({ path, key }: { path: string; key: string }, hooks: IngestHooks): Promise<Pending> {
    const started = Date.now();
    const report: FileReport = { path, key, ok: false, rowsRead: 0, transactionsNew: 0, duplicates: 0, rejected: 0, warnings: 0, durationMs: 0 };
    try {
      if (!key.toLowerCase().endsWith(".csv")) throw new Error("not a .csv file");
      const { size, mtimeMs } = await stat(path);
      hooks.onFileStart?.(path, size);
      // The upload: the raw bucket keeps the file as given, never changed afterwards (a file taken
      // from the raw folder itself, by reprocess, is not copied onto itself).
      if (path !== raw.path(key)) await raw.putFile(key, path);
      const outcome = await transformObject(
        {
          raw,
          transformed,
          transactionIdKey,
          log,
          workers: options.threads,
          onProgress: hooks.onProgress && ((read, total) => hooks.onProgress!(path, read, total)),
        },
        key,
        // The file's own modification time orders its versions (an older copy ingested later loses).
        { modifiedMs: mtimeMs },
      );
      if (outcome.status === "refused") {
        report.error = outcome.failure.reason;
        await recordFailure(key, { failureKey: outcome.failureKey });
        return { report, started, transformMs: Date.now() - started, sales: 0 };
      }
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
      await recordFailure(key, error instanceof TransformFailedError ? { failureKey: error.failureKey } : { reason: report.error });
      return { report, started, transformMs: Date.now() - started, sales: 0 };
    }
  }

  /**
   * A file that failed: from the failed.json the transform wrote, as the load records it on AWS
   * (record-failure.ts); a failure before or beside the transform (not a .csv, the disk full) as
   * the same row, since no failed.json could be written.
   */
  async function recordFailure(key: string, failed: { failureKey: string } | { reason: string }): Promise<void> {
    await (
      "failureKey" in failed
        ? recordTransformFailure({ transformed, warehouse, log }, failed.failureKey)
        : warehouse.recordOutcome(failureOutcome({ source: { bucket: raw.name, key }, reason: failed.reason }))
    ).catch((e: Error) => log.error("could not record the failure", { key, error: e.message }));
  }

  /** Loads the pending files' manifests in batches, then reports every pending file in order. */
  async function flush(pending: Pending[], hooks: IngestHooks): Promise<void> {
    const toLoad = pending.filter((p) => p.manifestKey);
    if (toLoad.length)
      hooks.onLoadStart?.(
        toLoad.map((p) => p.report.path),
        toLoad.reduce((n, p) => n + p.sales, 0),
      );
    const started = Date.now();
    const outcomes = await loadManifests(
      { transformed, warehouse, log, keyHint },
      toLoad.map((p) => p.manifestKey!),
      { maxBatch },
    );
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
        transactionsNew: r.transactionsNew,
        duplicates: r.transactionsDuplicate,
        rejected: r.rowsRejected,
        warnings: r.warnings,
        outcome: r.outcome,
        ...(r.supersededLoadId ? { supersededLoadId: r.supersededLoadId } : {}),
        ...(r.newerLoadId ? { newerLoadId: r.newerLoadId } : {}),
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
    // Readers get the warehouse itself; ingest goes through the journal (withOutcomeJournal).
    warehouse: opened,
    keyFingerprint: fingerprint,
    async ingest(paths, hooks = {}) {
      if (!keyed) throw new Error("this home was opened to read only: it cannot ingest");
      const reports: FileReport[] = [];
      let pending: Pending[] = [];
      let sales = 0;
      // Files are transformed in order (small ones a few at a time, below); their manifests load in batches.
      const files = await expandPaths(paths, raw.name);
      const sizes = await Promise.all(
        files.map((f) =>
          stat(f.path).then(
            (s) => s.size,
            () => 0,
          ),
        ),
      );
      for (let next = 0; next < files.length;) {
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
        if (sales >= LOCAL_BATCH_SALES || pending.length >= maxBatch) {
          await flush(pending, hooks);
          pending = [];
          sales = 0;
        }
      }
      if (pending.length) await flush(pending, hooks);
      return reports;
    },
    async withdraw(keys) {
      if (!keyed) throw new Error("this home was opened to read only: it cannot withdraw files");
      const manifests = [];
      for (const key of keys) manifests.push(await writeWithdrawal({ transformed, transactionIdKey, log }, key));
      return loadManifests({ transformed, warehouse, log, keyHint }, manifests, { maxBatch });
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
