// Application service: load one manifest into the warehouse (DESIGN section 6).
// Used unchanged by the load Lambda (Redshift Data API) and by `coffeetl ingest` (PostgreSQL).
import { createHash } from "node:crypto";
import { text } from "node:stream/consumers";
import { MANIFEST_FILE, parseManifest } from "../core/manifest.js";
import { TABLES } from "../core/schema.js";
import { silentLog, type Log } from "./log.js";
import type { LoadResult, Storage, TableFile, Warehouse } from "./ports.js";

export interface LoadDeps {
  transformed: Storage;
  warehouse: Warehouse;
  log?: Log;
}

/** A load is identified by its transformed prefix (source key + content hash). */
export const loadIdOf = (prefix: string): string => createHash("sha256").update(prefix).digest("hex");

export async function loadManifest(deps: LoadDeps, manifestKey: string): Promise<LoadResult & { durationMs: number }> {
  const log = deps.log ?? silentLog;
  const started = Date.now();
  if (!manifestKey.endsWith(`/${MANIFEST_FILE}`)) throw new Error(`${manifestKey}: not a ${MANIFEST_FILE} key`);
  const prefix = manifestKey.slice(0, -MANIFEST_FILE.length - 1);
  const loadId = loadIdOf(prefix);

  const previous = await deps.warehouse.findLoad(loadId);
  if (previous) {
    log.info("already loaded", { manifestKey, loadId });
    return { ...previous, loaded: false, transactionsNew: 0, transactionsDuplicate: previous.rowsRead - previous.rowsRejected, durationMs: Date.now() - started };
  }

  const manifest = parseManifest(await text((await deps.transformed.get(manifestKey)).body), manifestKey);
  const files: TableFile[] = TABLES.map((table) => {
    const key = `${prefix}/${manifest.files[table]}`;
    return { table, uri: deps.transformed.uri(key), open: async () => (await deps.transformed.get(key)).body };
  });
  const result = await deps.warehouse.load({ loadId, prefix, manifest, files, loadedAt: new Date().toISOString() });
  const durationMs = Date.now() - started;
  log.info(result.loaded ? "loaded" : "already loaded", {
    manifestKey,
    loadId,
    rowsRead: result.rowsRead,
    transactionsNew: result.transactionsNew,
    transactionsDuplicate: result.transactionsDuplicate,
    rowsRejected: result.rowsRejected,
    warnings: result.warnings,
    durationMs,
  });
  return { ...result, durationMs };
}
