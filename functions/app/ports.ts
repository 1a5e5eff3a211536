// The ports the application services depend on. Adapters: local folders and PostgreSQL
// (functions/local), S3 and the Redshift Data API (functions/aws).
import type { Readable } from "node:stream";
import type { TableName } from "../core/schema.js";
import type { Manifest } from "../core/manifest.js";

export interface StoredObject {
  body: Readable;
  size: number;
  /** The object version, where the store keeps versions (S3); reads can be pinned to it. */
  versionId?: string;
}

/** A bucket: S3 in AWS, a folder locally. Keys are `/`-separated, as in S3. */
export interface Storage {
  /** The bucket name (S3) or folder path (local), as it should appear in a manifest. */
  readonly name: string;
  get(key: string, options?: { versionId?: string }): Promise<StoredObject>;
  /** Writes an object from a stream, a string or bytes; resolves when it is stored whole. */
  put(key: string, body: Readable | string | Uint8Array, options?: { contentType?: string }): Promise<void>;
  exists(key: string): Promise<boolean>;
  list(prefix: string): AsyncIterable<string>;
  /** Address of an object for a bulk loader: `s3://bucket/key`, or a local file path. */
  uri(key: string): string;
}

/** One table file of a manifest, as a loader needs it. */
export interface TableFile {
  table: TableName;
  /** `s3://…` for Redshift COPY; a file path locally. */
  uri: string;
  open(): Promise<Readable>;
}

export interface LoadRequest {
  loadId: string;
  /** The transformed prefix the manifest sits under (`<raw key without .csv>/<hash>`). */
  prefix: string;
  manifest: Manifest;
  files: TableFile[];
  /** The raw object's version (S3 versionId), when the store keeps versions. */
  sourceVersion?: string;
  /** The version's place among its key's versions (core/version-order.ts), when known. */
  sourceOrder?: string;
  /** Fingerprint of the transaction-id key that keyed the sales (`keyFingerprint` in core/keys). */
  keyFingerprint: string;
  /** The file's rejects.csv and warnings.csv (`line_number,reason`), kept in `line_notes` by the load. */
  notes?: LineNotesFile[];
}

/** A transformed file listing lines of a raw file: rejected ones, or ones loaded with a warning. */
export interface LineNotesFile {
  kind: "rejected" | "warning";
  uri: string;
  open(): Promise<Readable>;
}

export interface LoadResult {
  loadId: string;
  /** False when nothing changed: loaded before, or an older version than the key's current one. */
  loaded: boolean;
  /**
   * `withdrawn`: a version with no rows (a header alone, or `coffeetl forget`) is now current, so
   * the key holds no sales. `superseded`: an older version than the current one arrived late
   * (superseded on arrival); nothing changed.
   */
  outcome: "loaded" | "already_loaded" | "superseded" | "withdrawn";
  /** The earlier load of the same raw key this one replaced (docs/design.md §7.3). */
  supersededLoadId?: string;
  /** For `superseded`: the current, newer load that stays. */
  newerLoadId?: string;
  rowsRead: number;
  transactionsNew: number;
  transactionsDuplicate: number;
  rowsRejected: number;
  warnings: number;
}

/** One row of `file_outcomes` (functions/core/schema.ts). */
export interface FileOutcome {
  sourceKey: string;
  sourceVersion?: string;
  sourceSha256?: string;
  loadId?: string;
  stage: "transform" | "load";
  outcome: "loaded" | "already_loaded" | "superseded" | "withdrawn" | "failed";
  /** Failures only; never row content or personal data. */
  reason?: string;
  rowsRead?: number;
  transactionsNew?: number;
  transactionsDuplicate?: number;
  rowsRejected?: number;
  warnings?: number;
  /** ISO timestamp; now when omitted. */
  recordedAt?: string;
}

/** The warehouse: Redshift through the Data API, or PostgreSQL (embedded PGlite or a server). */
export interface Warehouse {
  /** Creates the tables when missing (idempotent). */
  ensureSchema(): Promise<void>;
  /**
   * Loads several manifests in one transaction that first locks every table it writes; one
   * `loads` row per file with its own counts. Loading a manifest again changes nothing. No two
   * requests of one batch may share a raw key. Results in request order.
   */
  loadBatch(requests: LoadRequest[]): Promise<LoadResult[]>;
  /** Writes one `file_outcomes` row (failures the load itself could not record). */
  recordOutcome(outcome: FileOutcome): Promise<void>;
  /** Runs a read query; rows as plain objects keyed by column name. */
  query<T = Record<string, unknown>>(sql: string): Promise<T[]>;
  close(): Promise<void>;
}

/**
 * Work given up for a passing reason: the invocation's time ran out (the statement was cancelled),
 * or throttling, a concurrency limit or a serialization conflict outlasted the retries. Nothing is
 * wrong with the files: the load returns them to the queue whole, never splits the batch, and
 * records no `failed` outcome.
 */
export class RetryLaterError extends Error {
  constructor(
    message: string,
    readonly reason: "time" | "throttle" | "conflict",
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "RetryLaterError";
  }
}

/**
 * A load refused because the warehouse's sales were keyed with another transaction-id key
 * (docs/design.md §7.2). Not retried, never split: no file of the batch can load.
 */
export class KeyMismatchError extends Error {
  constructor(
    readonly warehouseFingerprint: string | undefined,
    readonly loadFingerprint: string,
  ) {
    super(
      `the warehouse's sales were keyed with the transaction-id key of fingerprint ${warehouseFingerprint ?? "(unknown)"}, ` +
        `but this load's were keyed with ${loadFingerprint}: loading it would give every sale a second id`,
    );
    this.name = "KeyMismatchError";
  }
}
