// The whole pipeline on one machine: folders stand in for the two buckets, PostgreSQL (embedded
// PGlite by default) for Redshift, and `ingest` for the S3 events. The services are the Lambdas'.
import { randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, readFile, readdir, realpath, stat, writeFile } from "node:fs/promises";
import { join, relative, resolve, sep } from "node:path";
import { loadManifest } from "../app/load-manifest.js";
import { silentLog, type Log } from "../app/log.js";
import type { Warehouse } from "../app/ports.js";
import { transformObject } from "../app/transform-object.js";
import { REJECTS_FILE } from "../core/manifest.js";
import { FolderStorage } from "./folder-storage.js";
import { PostgresWarehouse } from "./postgres-warehouse.js";

export interface LocalPipelineOptions {
  /** State folder: buckets, warehouse data and the local transaction-id secret. */
  home: string;
  /** A PostgreSQL server instead of the embedded warehouse. */
  databaseUrl?: string;
  /** Worker threads per transform; by default as many as help for each file's size. */
  threads?: number | undefined;
  log?: Log;
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
  /** Worker threads the transform used (0: the main thread). */
  threads?: number;
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
  ingest(paths: string[], hooks?: IngestHooks): Promise<FileReport[]>;
  close(): Promise<void>;
}

/** The local stand-in for the deployment secret: made once, kept under the home folder. */
async function localSecret(home: string): Promise<string> {
  const path = join(home, "transaction-id.key");
  try {
    return (await readFile(path, "utf8")).trim();
  } catch {
    const secret = randomBytes(32).toString("hex");
    await writeFile(path, secret + "\n", { mode: 0o600, flag: "wx" }).catch(() => {});
    return (await readFile(path, "utf8")).trim();
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
  await mkdir(home, { recursive: true });
  const log = options.log ?? silentLog;
  const raw = new FolderStorage(join(home, "raw"));
  const transformed = new FolderStorage(join(home, "transformed"));
  const secret = await localSecret(home);
  const warehouse = await PostgresWarehouse.open(
    options.databaseUrl ? { databaseUrl: options.databaseUrl } : { dataDir: join(home, "warehouse") },
  );
  await warehouse.ensureSchema();

  async function ingestOne({ path, key }: { path: string; key: string }, hooks: IngestHooks): Promise<FileReport> {
    const started = Date.now();
    const report: FileReport = { path, key, ok: false, rowsRead: 0, salesNew: 0, duplicates: 0, rejected: 0, warnings: 0, durationMs: 0 };
    try {
      if (!key.toLowerCase().endsWith(".csv")) throw new Error("not a .csv file");
      const { size } = await stat(path);
      hooks.onFileStart?.(path, size);
      // The upload: the raw bucket keeps the file as given, never changed afterwards (a file taken
      // from the raw folder itself, by reprocess, is not copied onto itself).
      if (path !== raw.path(key)) await raw.put(key, createReadStream(path));
      const outcome = await transformObject(
        { raw, transformed, secret, log, workers: options.threads, onProgress: hooks.onProgress && ((read, total) => hooks.onProgress!(path, read, total)) },
        key,
      );
      hooks.onLoadStart?.([path], outcome.manifest.rowsRead);
      const load = await loadManifest({ transformed, warehouse, log }, outcome.manifestKey);
      Object.assign(report, {
        ok: true,
        prefix: outcome.prefix,
        threads: outcome.workers,
        ...(load.rowsRejected ? { rejectsPath: transformed.path(`${outcome.prefix}/${REJECTS_FILE}`) } : {}),
        rowsRead: load.rowsRead,
        salesNew: load.transactionsNew,
        duplicates: load.transactionsDuplicate,
        rejected: load.rowsRejected,
        warnings: load.warnings,
      });
    } catch (error) {
      report.error = (error as Error).message.replace(`${key}: `, "");
    }
    report.durationMs = Date.now() - started;
    hooks.onFileDone?.(report);
    return report;
  }

  return {
    home,
    raw,
    transformed,
    warehouse,
    async ingest(paths, hooks = {}) {
      const reports: FileReport[] = [];
      for (const file of await expandPaths(paths, raw.name)) reports.push(await ingestOne(file, hooks));
      return reports;
    },
    close: () => warehouse.close(),
  };
}
