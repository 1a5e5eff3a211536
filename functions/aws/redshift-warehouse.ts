// The Warehouse port on the Redshift Data API. One manifest = one BatchExecuteStatement (one
// transaction): temp staging tables, COPY of each table file from S3, the portable merge SQL of
// functions/warehouse/sql.ts, drop of the staging tables. Statements are polled with backoff, bounded
// by the invocation's remaining time; conflicts and throttling retry the whole batch.
import { randomUUID } from "node:crypto";
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
import type { LoadRequest, LoadResult, Warehouse } from "../app/ports.js";
import { TABLES } from "../core/schema.js";
import {
  CREATE_TABLES,
  createStagingStatements,
  dropStagingStatements,
  loadFacts,
  loadResultFromRow,
  mergeStatements,
  selectLoadStatement,
} from "../warehouse/sql.js";
import { DEFAULT_READER_DB_USER, ensureRedshiftReaderRole } from "../warehouse/reader-role.js";
import { copyStatement } from "./redshift-sql.js";
import type { RedshiftConnection } from "./ssm.js";

export interface RedshiftWarehouseOptions {
  /** Milliseconds left in this invocation (`context.getRemainingTimeInMillis`). Default: 15 minutes from now. */
  remainingTimeMs?: () => number;
  log?: Log;
  /** Injected in tests. */
  sleep?: (ms: number) => Promise<void>;
  /** First DescribeStatement delay; then ×1.5 per poll up to `pollMaxMs`. */
  pollInitialMs?: number;
  pollMaxMs?: number;
  /** Time kept back at the end of the invocation to cancel the statement and report. */
  safetyMarginMs?: number;
  /** Attempts of one batch or statement on serialization conflicts and throttling. */
  maxAttempts?: number;
  /** Backoff before a retry: base × 2^(attempt-1), with full jitter, at most 20 s. */
  retryBaseMs?: number;
}

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

export class RedshiftWarehouse implements Warehouse {
  private readonly remaining: () => number;
  private readonly log: Log;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly pollInitialMs: number;
  private readonly pollMaxMs: number;
  private readonly marginMs: number;
  private readonly maxAttempts: number;
  private readonly retryBaseMs: number;

  constructor(
    private readonly client: RedshiftDataClient,
    private readonly connection: RedshiftConnection,
    options: RedshiftWarehouseOptions = {},
  ) {
    const until = Date.now() + 15 * 60_000;
    this.remaining = options.remainingTimeMs ?? (() => until - Date.now());
    this.log = options.log ?? silentLog;
    this.sleep = options.sleep ?? defaultSleep;
    this.pollInitialMs = options.pollInitialMs ?? 250;
    this.pollMaxMs = options.pollMaxMs ?? 5_000;
    this.marginMs = options.safetyMarginMs ?? 10_000;
    this.maxAttempts = options.maxAttempts ?? 4;
    this.retryBaseMs = options.retryBaseMs ?? 1_000;
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
    await this.batch([...CREATE_TABLES], "create schema", CREATE_RACE);
    await ensureRedshiftReaderRole(this, { readerDbUser: this.connection.target.kind === "provisioned" ? (this.connection.readerDbUser ?? DEFAULT_READER_DB_USER) : undefined, log: this.log });
  }

  async load(request: LoadRequest): Promise<LoadResult> {
    const byTable = new Map(request.files.map((f) => [f.table, f]));
    const missing = TABLES.filter((t) => !byTable.has(t));
    if (missing.length) throw new Error(`load ${request.loadId}: no table file for ${missing.join(", ")}`);
    const sqls = [
      ...createStagingStatements(),
      ...TABLES.map((t) => copyStatement(t, byTable.get(t)!.uri, this.connection.copyRoleArn)),
      ...mergeStatements(loadFacts(request)),
      ...dropStagingStatements(),
    ];
    const size = sqls.reduce((n, s) => n + Buffer.byteLength(s), 0);
    if (size > 95 * 1024) throw new Error(`load ${request.loadId}: batch SQL is ${size} bytes, over the Data API limit`);

    await this.batch(sqls, `load ${request.loadId}`, undefined, `coffeetl-load-${request.loadId.slice(0, 16)}`);
    const [row] = await this.query(selectLoadStatement(request.loadId));
    if (!row) throw new Error(`load ${request.loadId}: the batch finished but wrote no loads row`);
    // Another invocation may have recorded this load first (a redelivered event racing this one):
    // then this batch added nothing, and the row is not ours.
    const ours = String(row.loaded_at ?? "").startsWith(request.loadedAt.slice(0, 19).replace("T", " "));
    return loadResultFromRow(row, ours);
  }

  async findLoad(loadId: string): Promise<LoadResult | undefined> {
    const [row] = await this.query(selectLoadStatement(loadId));
    return row ? loadResultFromRow(row, false) : undefined;
  }

  async query<T = Record<string, unknown>>(sql: string): Promise<T[]> {
    return this.withRetries("query", undefined, async () => {
      const { Id } = await this.client.send(new ExecuteStatementCommand({ Sql: sql, ...this.target() }));
      if (!Id) throw new Error("ExecuteStatement returned no statement id");
      const description = await this.waitFor(Id, "query");
      if (!description.HasResultSet) return [];
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
    });
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
        if (!isRetryable(error, alsoRetry) || attempt >= this.maxAttempts) throw error;
        const delay = Math.round(Math.random() * Math.min(this.retryBaseMs * 2 ** (attempt - 1), 20_000));
        if (this.remaining() - delay < this.marginMs * 2) throw error;
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
        throw new Error(`${what}: statement ${id} still running with ${Math.max(0, Math.round(this.remaining() / 1000))} s of the invocation left; cancelled so the retry starts clean`);
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
