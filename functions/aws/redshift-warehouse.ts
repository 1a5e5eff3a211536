// The Warehouse port on the Redshift Data API. One batch of manifests = one BatchExecuteStatement
// (one transaction): LOCK, temp staging tables, one COPY per table (over a COPY manifest written to
// the transformed bucket beside the batch when it holds several files), the portable load steps of
// functions/warehouse/load/, and a last SELECT whose rows (read by sub-statement id) are the
// per-file results. Statements are polled with backoff, bounded by the invocation's remaining time;
// conflicts and throttling retry the whole batch.
import { createHash, randomUUID } from "node:crypto";
import {
  BatchExecuteStatementCommand,
  CancelStatementCommand,
  DescribeStatementCommand,
  ExecuteStatementCommand,
  GetStatementResultCommand,
  type DescribeStatementResponse,
  type Field,
  type RedshiftDataClient,
} from "@aws-sdk/client-redshift-data";
import { silentLog, type Log } from "../app/log.js";
import { RetryLaterError, type FileOutcome, type LoadRequest, type LoadResult, type Storage, type Warehouse } from "../app/ports.js";
import { COPY_MANIFEST_PREFIX } from "../core/manifest.js";
import { ADDED_COLUMN_DEFS, REDSHIFT_CREATE_TABLES, TABLES } from "../core/schema.js";
import { loadStatements, resultsFromRows } from "../warehouse/load/index.js";
import { recordOutcomeStatement } from "../warehouse/sql.js";
import { DEFAULT_READER_DB_USER, ensureRedshiftReaderRole } from "../warehouse/reader-role.js";
import { ensureRedshiftWriterRole } from "../warehouse/roles.js";
import { lineNotesCsv, withLineNotes } from "../warehouse/line-notes.js";
import { LINE_NOTES_FILE, REDSHIFT_DIALECT, copyManifest, copyStatement, lineNotesStatements } from "./redshift-sql.js";
import type { WarehouseSettings } from "./ssm.js";

export interface RedshiftWarehouseOptions {
  /** Milliseconds left in this invocation (`context.getRemainingTimeInMillis`). Default: 15 minutes from now. */
  remainingTimeMs?: () => number;
  log?: Log;
  /** Injected in tests. */
  sleep?: (ms: number) => Promise<void>;
  /** First DescribeStatement delay; then ×1.5 per poll up to `pollMaxMs`. */
  pollInitialMs?: number;
  /**
   * The longest wait between two polls (default 1 s, `coffeetl:loadPollMaxMs`): a finished load is
   * seen at most this late. 1 s costs one DescribeStatement per second per running load, far below
   * the Data API's quota, where the former 5 s cap added 2.5 s on average to a single file's load.
   */
  pollMaxMs?: number;
  /** Time kept back at the end of the invocation to cancel the statement and report. */
  safetyMarginMs?: number;
  /** Attempts of one batch or statement on serialization conflicts and throttling. */
  maxAttempts?: number;
  /** Backoff before a retry: base × 2^(attempt-1), with full jitter, at most 20 s. */
  retryBaseMs?: number;
  /**
   * The transformed bucket: a batch of several manifests writes its COPY manifests there, under
   * `_load-batches/<batch id>/` (the load role needs s3:PutObject on that prefix).
   */
  copyManifests?: Storage;
}

/** Data API limits (docs/design.md §8, §12): 100 KB of SQL per batch and 40 statements; kept with a margin. */
export const MAX_BATCH_SQL_BYTES = 90 * 1024;
export const MAX_BATCH_STATEMENTS = 40;
/**
 * What a load batch may spend of the Data API's 40 statements: LOCK, staging, four COPYs, the load
 * steps and the result are 32, for one file or many. The 8 kept free are headroom: a change that
 * needs more must merge statements first (docs/design.md §8); a load over it is refused unsent.
 */
export const LOAD_STATEMENT_BUDGET = 32;

/** A statement that ended FAILED or ABORTED, with Redshift's error text. */
export class RedshiftStatementError extends Error {
  constructor(
    message: string,
    readonly statementId: string,
    readonly status: string,
    readonly redshiftError: string,
  ) {
    super(message);
    this.name = "RedshiftStatementError";
  }
}

const THROTTLING = new Set([
  "ThrottlingException",
  "ActiveStatementsExceededException",
  "ActiveSessionsExceededException",
  "ActiveWaitingRequestsExceededException",
]);
/** Redshift's serializable isolation: `ERROR: 1023 DETAIL: Serializable isolation violation on table …`. */
const CONFLICT = /Serializable isolation violation|ERROR:\s*1023\b|conflict with concurrent transaction/i;
/** Two first-time CREATE TABLE IF NOT EXISTS racing each other. */
const CREATE_RACE = /already exists|pg_type_typname_nsp_index/i;

export function isRetryable(error: unknown, extra?: RegExp): boolean {
  const e = error as { name?: string; message?: string; redshiftError?: string };
  if (e?.name && THROTTLING.has(e.name)) return true;
  const text = e instanceof RedshiftStatementError ? e.redshiftError : "";
  return CONFLICT.test(text) || (extra !== undefined && extra.test(text));
}

/** Names a batch by its manifests, so a retried batch rewrites the same COPY manifests. */
const batchId = (requests: LoadRequest[]) =>
  createHash("sha256")
    .update(requests.map((r) => r.loadId).join(","))
    .digest("hex")
    .slice(0, 32);

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function fieldValue(field: Field): unknown {
  if (field.isNull) return null;
  if (field.stringValue !== undefined) return field.stringValue;
  if (field.longValue !== undefined) return field.longValue;
  if (field.doubleValue !== undefined) return field.doubleValue;
  if (field.booleanValue !== undefined) return field.booleanValue;
  if (field.blobValue !== undefined) return Buffer.from(field.blobValue);
  return null;
}

/** Default cap of the DescribeStatement backoff (RedshiftWarehouseOptions.pollMaxMs). */
export const DEFAULT_POLL_MAX_MS = 1_000;

export class RedshiftWarehouse implements Warehouse {
  private readonly remaining: () => number;
  private readonly log: Log;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly pollInitialMs: number;
  private readonly pollMaxMs: number;
  private readonly marginMs: number;
  private readonly maxAttempts: number;
  private readonly retryBaseMs: number;
  private readonly copyManifests: Storage | undefined;

  constructor(
    private readonly client: RedshiftDataClient,
    private readonly connection: WarehouseSettings,
    options: RedshiftWarehouseOptions = {},
  ) {
    const until = Date.now() + 15 * 60_000;
    this.remaining = options.remainingTimeMs ?? (() => until - Date.now());
    this.log = options.log ?? silentLog;
    this.sleep = options.sleep ?? defaultSleep;
    this.pollInitialMs = options.pollInitialMs ?? 250;
    this.pollMaxMs = options.pollMaxMs ?? DEFAULT_POLL_MAX_MS;
    this.marginMs = options.safetyMarginMs ?? 10_000;
    this.maxAttempts = options.maxAttempts ?? 4;
    this.retryBaseMs = options.retryBaseMs ?? 1_000;
    this.copyManifests = options.copyManifests;
  }

  /** Where statements go: workgroup or cluster, database, and DbUser or SecretArn. Never a password. */
  private target() {
    const t = this.connection.target;
    if (t.kind === "serverless") return { WorkgroupName: t.workgroupName, Database: t.database };
    return "secretArn" in t
      ? { ClusterIdentifier: t.clusterIdentifier, Database: t.database, SecretArn: t.secretArn }
      : { ClusterIdentifier: t.clusterIdentifier, Database: t.database, DbUser: t.dbUser };
  }

  async ensureSchema(): Promise<void> {
    await this.batch([...REDSHIFT_CREATE_TABLES], "create schema", CREATE_RACE);
    await this.addMissingColumns();
    await ensureRedshiftReaderRole(this, {
      readerDbUser: this.connection.target.kind === "provisioned" ? (this.connection.readerDbUser ?? DEFAULT_READER_DB_USER) : undefined,
      log: this.log,
    });
    // The loader's rights in a role its IAM role maps to: a replaced load role keeps them.
    await ensureRedshiftWriterRole(this, { log: this.log });
  }

  /** A warehouse made by an earlier release lacks the columns added since: add them (no IF NOT EXISTS on Redshift). */
  private async addMissingColumns(): Promise<void> {
    const tables = [...new Set(ADDED_COLUMN_DEFS.map((c) => c.table))];
    const rows = await this.query<{ table_name: string; column_name: string }>(
      `SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name IN (${tables.map((t) => `'${t}'`).join(", ")})`,
    );
    const present = new Set(rows.map((r) => `${r.table_name}.${r.column_name}`));
    for (const c of ADDED_COLUMN_DEFS) {
      if (present.has(`${c.table}.${c.column}`)) continue;
      this.log.info("adding a column of this release", { table: c.table, column: c.column });
      // Another container adding it at the same moment is fine: "already exists" is retried, then found.
      await this.batch([`ALTER TABLE ${c.table} ADD COLUMN ${c.column} ${c.type}`], `add column ${c.table}.${c.column}`, CREATE_RACE).catch(
        (error: unknown) => {
          if (!/already exists/i.test(String((error as Error).message))) throw error;
        },
      );
    }
  }

  async loadBatch(requests: LoadRequest[]): Promise<LoadResult[]> {
    const what = requests.length === 1 ? `load ${requests[0]!.loadId}` : `load of ${requests.length} manifests`;
    const sql = loadStatements(REDSHIFT_DIALECT, requests, new Date().toISOString());
    const copies = await this.copies(requests);
    const sqls = [...sql.prepare, ...copies, ...sql.merge, sql.result];
    const size = sqls.reduce((n, q) => n + Buffer.byteLength(q), 0);
    if (size > MAX_BATCH_SQL_BYTES)
      throw new Error(`${what}: batch SQL is ${size} bytes, over the ${MAX_BATCH_SQL_BYTES} kept under the Data API's limit: load fewer manifests at once`);
    if (sqls.length > LOAD_STATEMENT_BUDGET)
      throw new Error(`${what}: ${sqls.length} statements, over the load's budget of ${LOAD_STATEMENT_BUDGET} of the Data API's ${MAX_BATCH_STATEMENTS}`);
    const name = `coffeetl-load-${(requests.length === 1 ? requests[0]!.loadId : batchId(requests)).slice(0, 16)}`;
    const id = (await this.batch(sqls, what, undefined, name)).Id!;
    // The batch's last statement reports each file; a sub-statement's result is read by `<id>:<n>`.
    const rows = await this.withRetries(what, undefined, () => this.rowsOf(`${id}:${sqls.length}`));
    // A batch refused for its key wrote nothing; its rows say so and this throws KeyMismatchError.
    const results = resultsFromRows(requests, rows);
    await this.saveLineNotes(requests);
    return results;
  }

  /**
   * The batch's rejected lines and warnings into `line_notes`, in a transaction of its own right after
   * the load's (kept out of its statement budget): LOCK, DELETE, one COPY of a CSV written
   * beside the batch's COPY manifests. Idempotent, so a failure here fails the batch, whose retry
   * finds its files already loaded and writes their notes again.
   */
  private async saveLineNotes(requests: LoadRequest[]): Promise<void> {
    const noted = withLineNotes(requests);
    if (noted.length === 0) return;
    const store = this.copyManifests;
    if (!store) throw new Error("a load with rejected lines or warnings needs the copyManifests storage (the transformed bucket) for its line notes");
    const key = `${COPY_MANIFEST_PREFIX}/${batchId(noted)}/${LINE_NOTES_FILE}`;
    await store.put(key, lineNotesCsv(noted, { header: true }), { contentType: "text/csv" });
    await this.batch(
      lineNotesStatements(noted, store.uri(key), this.connection.copyRoleArn),
      `line notes of ${noted.length} file${noted.length === 1 ? "" : "s"}`,
    );
  }

  /** One COPY per table: straight from the file for one manifest, else over a COPY manifest. */
  private async copies(requests: LoadRequest[]): Promise<string[]> {
    const role = this.connection.copyRoleArn;
    const uris = (table: (typeof TABLES)[number]) =>
      requests.map((r) => {
        const file = r.files.find((f) => f.table === table);
        if (!file) throw new Error(`load ${r.loadId}: no table file for ${table}`);
        return file.uri;
      });
    if (requests.length === 1) return TABLES.map((t) => copyStatement(t, uris(t)[0]!, role));
    const store = this.copyManifests;
    if (!store) throw new Error("a batch of several manifests needs the copyManifests storage (the transformed bucket) for its COPY manifests");
    const prefix = `${COPY_MANIFEST_PREFIX}/${batchId(requests)}`;
    return Promise.all(
      TABLES.map(async (t) => {
        const key = `${prefix}/${t}.copy.json`;
        await store.put(key, copyManifest(uris(t)), { contentType: "application/json" });
        return copyStatement(t, store.uri(key), role, { manifest: true });
      }),
    );
  }

  async recordOutcome(outcome: FileOutcome): Promise<void> {
    await this.query(recordOutcomeStatement(REDSHIFT_DIALECT, outcome));
  }

  async query<T = Record<string, unknown>>(sql: string): Promise<T[]> {
    return this.withRetries("query", undefined, async () => {
      const { Id } = await this.client.send(new ExecuteStatementCommand({ Sql: sql, ...this.target() }));
      if (!Id) throw new Error("ExecuteStatement returned no statement id");
      const description = await this.waitFor(Id, "query");
      if (!description.HasResultSet) return [];
      return this.rowsOf<T>(Id);
    });
  }

  /** Every page of a statement's (or a batch sub-statement's) result, as plain objects. */
  private async rowsOf<T = Record<string, unknown>>(Id: string): Promise<T[]> {
    {
      const rows: T[] = [];
      let names: string[] | undefined;
      let NextToken: string | undefined;
      do {
        const page = await this.client.send(new GetStatementResultCommand({ Id, ...(NextToken ? { NextToken } : {}) }));
        names ??= (page.ColumnMetadata ?? []).map((c, i) => c.name ?? c.label ?? `column${i + 1}`);
        for (const record of page.Records ?? []) {
          const row: Record<string, unknown> = {};
          record.forEach((field, i) => (row[names![i] ?? `column${i + 1}`] = fieldValue(field)));
          rows.push(row as T);
        }
        NextToken = page.NextToken;
      } while (NextToken);
      return rows;
    }
  }

  async close(): Promise<void> {
    // The client is shared for the life of the container; nothing to release per warehouse.
  }

  /** Runs statements as one transaction, retried whole on conflicts and throttling. */
  private async batch(sqls: string[], what: string, alsoRetry?: RegExp, statementName?: string): Promise<DescribeStatementResponse> {
    return this.withRetries(what, alsoRetry, async () => {
      const started = Date.now();
      const { Id } = await this.client.send(
        new BatchExecuteStatementCommand({
          Sqls: sqls,
          ...this.target(),
          ClientToken: randomUUID(),
          ...(statementName ? { StatementName: statementName } : {}),
        }),
      );
      if (!Id) throw new Error("BatchExecuteStatement returned no statement id");
      const description = await this.waitFor(Id, what);
      this.log.info("statement finished", { what, statementId: Id, statements: sqls.length, durationMs: Date.now() - started });
      return description;
    });
  }

  private async withRetries<T>(what: string, alsoRetry: RegExp | undefined, run: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await run();
      } catch (error) {
        if (!isRetryable(error, alsoRetry)) throw error;
        // Given up on a passing cause: the caller returns the work whole, to try again later.
        const later = () => new RetryLaterError((error as Error).message, THROTTLING.has((error as Error).name) ? "throttle" : "conflict", { cause: error });
        if (attempt >= this.maxAttempts) throw later();
        const delay = Math.round(Math.random() * Math.min(this.retryBaseMs * 2 ** (attempt - 1), 20_000));
        if (this.remaining() - delay < this.marginMs * 2) throw later();
        this.log.warn("retrying after a conflict or throttling", {
          what,
          attempt,
          delayMs: delay,
          errorName: (error as Error).name,
          errorMessage: (error as Error).message,
        });
        await this.sleep(delay);
      }
    }
  }

  /** Polls DescribeStatement until the statement ends; cancels it when the invocation is about to time out. */
  private async waitFor(id: string, what: string): Promise<DescribeStatementResponse> {
    let delay = this.pollInitialMs;
    for (;;) {
      if (this.remaining() - delay < this.marginMs) {
        await this.client.send(new CancelStatementCommand({ Id: id })).catch(() => undefined);
        throw new RetryLaterError(
          `${what}: statement ${id} still running with ${Math.max(0, Math.round(this.remaining() / 1000))} s of the invocation left; cancelled so the retry starts clean`,
          "time",
        );
      }
      await this.sleep(delay);
      delay = Math.min(Math.round(delay * 1.5), this.pollMaxMs);
      let d: DescribeStatementResponse;
      try {
        d = await this.client.send(new DescribeStatementCommand({ Id: id }));
      } catch (error) {
        if (THROTTLING.has((error as Error).name)) continue;
        throw error;
      }
      if (d.Status === "FINISHED") return d;
      if (d.Status === "FAILED" || d.Status === "ABORTED") {
        const failed = d.SubStatements?.find((s) => s.Status === "FAILED" || s.Status === "ABORTED");
        const text = [d.Error, failed?.Error].filter((x, i, all): x is string => !!x && all.indexOf(x) === i).join(" | ") || "no error text";
        const at = failed?.Id ? ` (sub-statement ${failed.Id})` : "";
        throw new RedshiftStatementError(`${what}: Redshift statement ${id} ${d.Status}${at}: ${text}`, id, d.Status, text);
      }
    }
  }
}
