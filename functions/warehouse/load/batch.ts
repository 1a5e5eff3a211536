// What every load step reads: the batch's requests, checked once, and the literals the steps inline.
import type { LoadRequest } from "../../app/ports.js";
import { ORDER_PATTERN } from "../../core/version-order.js";
import type { TableName } from "../../core/schema.js";
import { count, hex, optional, timestamp, type Dialect } from "../literals.js";

export interface Batch {
  dialect: Dialect;
  requests: LoadRequest[];
  /** The batch's one key fingerprint, as a literal. */
  fingerprint: string;
  /** `loads.loaded_at`: whole seconds, as dashboards read it. */
  loadedAt: string;
  /** `file_outcomes.recorded_at`: milliseconds, so one file's successive outcomes sort in order. */
  recordedAt: string;
  /** Several files: a sale two of them bring needs a pass of its own (a large file loads alone). */
  several: boolean;
}

export const stagingTable = (table: TableName): string => `stage_${table}`;
/** The staged sales and items, which most steps read. */
export const ST = stagingTable("transactions");
export const SI = stagingTable("transaction_items");

/** Checks a batch: at least one manifest, one key fingerprint, no raw key twice (their order decides which is current). */
export function openBatch(dialect: Dialect, requests: LoadRequest[], loadedAt: string): Batch {
  if (requests.length === 0) throw new Error("a load batch needs at least one manifest");
  const fingerprint = requests[0]!.keyFingerprint;
  const keys = new Set<string>();
  for (const r of requests) {
    if (r.keyFingerprint !== fingerprint) throw new Error("a load batch's manifests must share one key fingerprint");
    if (keys.has(r.manifest.source.key)) throw new Error(`a load batch holds two manifests of ${r.manifest.source.key}`);
    keys.add(r.manifest.source.key);
  }
  return {
    dialect,
    requests,
    fingerprint: hex(fingerprint, "key fingerprint"),
    loadedAt: timestamp(loadedAt),
    recordedAt: timestamp(loadedAt, true),
    several: requests.length > 1,
  };
}

/**
 * One file of the batch as a SELECT of its `stage_files` columns (Redshift has no VALUES list in
 * FROM). Free text is cast where it stands, so no literal is ever typed CHAR and padded.
 */
export function fileRow(b: Batch, r: LoadRequest, fileNo: number): string {
  const m = r.manifest;
  count(m.rowsRead - m.rejected, `valid rows of ${r.loadId}`);
  const text = (v: string, what: string) => `CAST(${b.dialect.string(v, what)} AS VARCHAR(1024))`;
  const order = (v: string) => {
    if (!ORDER_PATTERN.test(v)) throw new Error(`source order malformed: ${JSON.stringify(v)}`);
    return `'${v}'`;
  };
  const values: [string, string][] = [
    ["file_no", String(fileNo)],
    ["load_id", hex(r.loadId, "loadId")],
    ["source_key", text(m.source.key, "source key")],
    ["source_version", optional(r.sourceVersion, (v) => text(v, "source version"), "VARCHAR(1024)")],
    ["source_order", optional(r.sourceOrder, order, "VARCHAR(64)")],
    ["source_sha256", hex(m.source.sha256, "source sha256")],
    ["rows_read", count(m.rowsRead, "rowsRead")],
    ["rows_rejected", count(m.rejected, "rejected")],
    ["warnings", count(m.warnings, "warnings")],
  ];
  // The first row names the columns (a UNION's names are its first SELECT's).
  return `SELECT ${values.map(([name, v]) => (fileNo === 0 ? `${v} AS ${name}` : v)).join(", ")}`;
}
