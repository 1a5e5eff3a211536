// The Warehouse port on PostgreSQL: embedded PGlite (file-backed, the local default) or a server
// reached by URL through `pg`. Same load SQL as Redshift (warehouse/sql.ts); only COPY differs: one
// COPY per table streams every file of the batch, each file's header checked and dropped.
import { mkdir } from "node:fs/promises";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { PGlite, type Transaction } from "@electric-sql/pglite";
import pg from "pg";
import { from as copyFrom } from "pg-copy-streams";
import type { FileOutcome, LoadRequest, LoadResult, TableFile, Warehouse } from "../app/ports.js";
import { ADDED_COLUMNS, COLUMNS, CREATE_INDEXES, CREATE_TABLES, LINE_NOTES_COLUMNS, LOAD_TABLES, TABLES, type TableName } from "../core/schema.js";
import { LINE_NOTES_TABLE, deleteLineNotesStatement, lineNotesCsv, withLineNotes } from "../warehouse/line-notes.js";
import { postgresReaderRoleStatements } from "../warehouse/reader-role.js";
import {
  KeyMismatchError,
  POSTGRES_DIALECT,
  SELECT_IDENTITY,
  isKeyCheckFailure,
  loadResultFromRow,
  loadStatements,
  recordOutcomeStatement,
  resultsFromRows,
  selectLoadStatement,
  stagingTable,
  type Dialect,
} from "../warehouse/sql.js";

/** What the warehouse needs of a connection: run SQL, stream a CSV in, run a transaction. */
interface Session {
  query<T>(sql: string): Promise<T[]>;
  /** COPY of headerless CSV into a table. */
  copyCsv(table: string, columns: readonly string[], body: Readable): Promise<void>;
}
interface Connection {
  session: Session;
  transaction<T>(work: (session: Session) => Promise<T>): Promise<T>;
  close(): Promise<void>;
  /** PGlite runs no autovacuum: statistics are the loader's job. */
  embedded: boolean;
}

// Timestamps stay naive text (`YYYY-MM-DD HH:MM:SS`), as stored; counts become numbers; money stays exact text.
const TIMESTAMP_OID = 1114;
const INT8_OID = 20;
const keepText = (value: string) => value;

/** PGlite's COPY reads a whole Blob: feed it the stream in slices cut at line ends. */
const COPY_SLICE_BYTES = 4 * 1024 * 1024;

async function* csvSlices(body: Readable): AsyncGenerator<Blob> {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  for await (const chunk of body) {
    pending.push(chunk as Buffer);
    pendingBytes += (chunk as Buffer).length;
    if (pendingBytes < COPY_SLICE_BYTES) continue;
    const joined = Buffer.concat(pending);
    const cut = joined.lastIndexOf(10) + 1;
    if (cut === 0) continue;
    yield new Blob([joined.subarray(0, cut)]);
    pending = [joined.subarray(cut)];
    pendingBytes = pending[0]!.length;
  }
  if (pendingBytes > 0) yield new Blob(pending);
}

/** The table files of a batch as one headerless CSV stream; each header must be the table's columns. */
export function concatenatedCsv(table: TableName, files: TableFile[]): Readable {
  const header = COLUMNS[table].join(",");
  return Readable.from(
    (async function* () {
      for (const file of files) {
        let seenHeader = false;
        let head = Buffer.alloc(0);
        let last = 10;
        for await (const raw of await file.open()) {
          let chunk = raw as Buffer;
          if (!seenHeader) {
            head = Buffer.concat([head, chunk]);
            const end = head.indexOf(10);
            if (end < 0 && head.length < 64 * 1024) continue;
            const line = head.subarray(0, end < 0 ? head.length : end).toString("utf8").replace(/^\uFEFF/, "").replace(/\r$/, "");
            if (line !== header) throw new Error(`${file.uri}: header is ${JSON.stringify(line.slice(0, 200))}, expected ${JSON.stringify(header)}`);
            seenHeader = true;
            chunk = head.subarray(end + 1);
          }
          if (chunk.length === 0) continue;
          last = chunk[chunk.length - 1]!;
          yield chunk;
        }
        if (!seenHeader && head.length) throw new Error(`${file.uri}: no header line`);
        if (last !== 10) yield Buffer.from("\n");
      }
    })(),
    { objectMode: false },
  );
}

function pgliteSession(db: PGlite | Transaction): Session {
  return {
    async query<T>(sql: string) {
      return (await db.query<T>(sql)).rows;
    },
    async copyCsv(table, columns, body) {
      for await (const blob of csvSlices(body)) {
        await db.query(`COPY ${table} (${columns.join(", ")}) FROM '/dev/blob' WITH (FORMAT csv, HEADER false)`, [], { blob });
      }
    },
  };
}

async function openPglite(dataDir: string | undefined): Promise<Connection> {
  if (dataDir) await mkdir(dataDir, { recursive: true });
  const db = await PGlite.create(dataDir ?? "memory://", {
    parsers: { [TIMESTAMP_OID]: keepText, [INT8_OID]: Number },
  });
  return {
    session: pgliteSession(db),
    transaction: (work) => db.transaction((tx) => work(pgliteSession(tx))),
    close: () => db.close(),
    embedded: true,
  };
}

async function openServer(url: string): Promise<Connection> {
  const client = new pg.Client({
    connectionString: url,
    types: {
      getTypeParser: ((oid: number, format?: "text" | "binary") =>
        oid === TIMESTAMP_OID ? keepText : oid === INT8_OID ? Number : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
    },
  });
  await client.connect();
  const session: Session = {
    async query<T>(sql: string) {
      // One statement per query, as in PGlite (extended protocol): `coffeetl sql`'s READ ONLY transaction can't be left.
      return (await client.query({ text: sql, queryMode: "extended" } as pg.QueryConfig)).rows as T[];
    },
    async copyCsv(table, columns, body) {
      await pipeline(body, client.query(copyFrom(`COPY ${table} (${columns.join(", ")}) FROM STDIN WITH (FORMAT csv, HEADER false)`)));
    },
  };
  return {
    session,
    async transaction(work) {
      await client.query("BEGIN");
      try {
        const result = await work(session);
        await client.query("COMMIT");
        return result;
      } catch (error) {
        await client.query("ROLLBACK").catch(() => undefined);
        throw error;
      }
    },
    close: () => client.end(),
    embedded: false,
  };
}

/** SQLSTATEs worth another attempt: serialization failure, deadlock, and a first-time CREATE race. */
const RETRYABLE = new Set(["40001", "40P01"]);
const CREATE_RACE = new Set(["23505", "42P07", "42710"]);
const codeOf = (error: unknown) => (error as { code?: string })?.code;

export interface PostgresWarehouseOptions {
  /** `postgres://…` for a server; otherwise embedded PGlite. */
  databaseUrl?: string;
  /** PGlite data directory; omitted means in memory. */
  dataDir?: string;
  /** Attempts of a load on serialization failures and deadlocks (default 6). */
  maxAttempts?: number;
  /** Backoff before a retry: base × 2^(attempt-1), with full jitter (default 100 ms). */
  retryBaseMs?: number;
  /** Called before a retry, for logs. */
  onRetry?: (attempt: number, error: Error) => void;
  /** The load's SQL dialect (default POSTGRES_DIALECT); the bench swaps the LOCK out to price it. */
  dialect?: Dialect;
}

export class PostgresWarehouse implements Warehouse {
  private schemaReady = false;
  /** Rows inserted since the last ANALYZE, and the table size then (embedded only). */
  private rowsSinceAnalyze = 0;
  private rowsAtAnalyze = 0;

  private constructor(
    private readonly connection: Connection,
    private readonly options: PostgresWarehouseOptions,
  ) {}

  static async open(options: PostgresWarehouseOptions): Promise<PostgresWarehouse> {
    const connection = options.databaseUrl ? await openServer(options.databaseUrl) : await openPglite(options.dataDir);
    return new PostgresWarehouse(connection, options);
  }

  async ensureSchema(): Promise<void> {
    if (this.schemaReady) return;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.connection.transaction(async (s) => {
          for (const statement of [...CREATE_TABLES, ...ADDED_COLUMNS, ...CREATE_INDEXES, ...postgresReaderRoleStatements()]) await s.query(statement);
        });
        break;
      } catch (error) {
        // Two first-time CREATE TABLE IF NOT EXISTS racing each other: the loser tries again.
        if (!CREATE_RACE.has(codeOf(error) ?? "") || attempt >= 3) throw error;
      }
    }
    this.schemaReady = true;
  }

  async findLoad(loadId: string): Promise<LoadResult | undefined> {
    await this.ensureSchema();
    const [row] = await this.connection.session.query<Record<string, unknown>>(selectLoadStatement(loadId));
    return row ? loadResultFromRow(row) : undefined;
  }

  async load(request: LoadRequest): Promise<LoadResult> {
    return (await this.loadBatch([request]))[0]!;
  }

  async loadBatch(requests: LoadRequest[]): Promise<LoadResult[]> {
    await this.ensureSchema();
    const maxAttempts = this.options.maxAttempts ?? 6;
    const base = this.options.retryBaseMs ?? 100;
    for (let attempt = 1; ; attempt++) {
      try {
        const results = await this.connection.transaction((s) => this.loadIn(s, requests));
        await this.keepStatistics(results);
        return results;
      } catch (error) {
        if (isKeyCheckFailure(error)) {
          const [row] = await this.connection.session.query<{ key_fingerprint: string }>(SELECT_IDENTITY);
          throw new KeyMismatchError(row?.key_fingerprint, requests[0]!.keyFingerprint);
        }
        if (!RETRYABLE.has(codeOf(error) ?? "")) throw error;
        if (attempt >= maxAttempts) {
          throw new Error(
            `load of ${requests.length} manifest${requests.length === 1 ? "" : "s"} gave up after ${attempt} attempts on concurrent-load conflicts (${codeOf(error)}: ${(error as Error).message})`,
          );
        }
        this.options.onRetry?.(attempt, error as Error);
        await new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(base * 2 ** (attempt - 1), 5_000)));
      }
    }
  }

  private async loadIn(s: Session, requests: LoadRequest[]): Promise<LoadResult[]> {
    const sql = loadStatements(this.options.dialect ?? POSTGRES_DIALECT, requests, new Date().toISOString());
    for (const statement of sql.prepare) await s.query(statement);
    for (const table of TABLES) {
      const files = requests.map((r) => {
        const file = r.files.find((f) => f.table === table);
        if (!file) throw new Error(`load ${r.loadId}: no table file for ${table}`);
        return file;
      });
      await s.copyCsv(stagingTable(table), COLUMNS[table], concatenatedCsv(table, files));
    }
    // Fresh statistics of the (small) staging tables let the planner probe the big tables' keys.
    await s.query(`ANALYZE ${[...TABLES.map(stagingTable), "stage_files"].join(", ")}`);
    for (const statement of sql.merge) await s.query(statement);
    // The files' rejected lines and warnings, in the load's transaction (warehouse/line-notes.ts).
    const noted = withLineNotes(requests);
    if (noted.length) {
      await s.query(deleteLineNotesStatement(noted));
      await s.copyCsv(LINE_NOTES_TABLE, LINE_NOTES_COLUMNS, lineNotesCsv(noted, { header: false }));
    }
    const rows = await s.query<Record<string, unknown>>(sql.result);
    for (const statement of sql.cleanup) await s.query(statement);
    return resultsFromRows(requests, rows);
  }

  /**
   * Embedded PostgreSQL runs no autovacuum. Analyzing every table after every load cost over half
   * of a backfill; instead the big tables are analyzed when they have grown by a fifth (and at
   * first), as autovacuum would. A server's autovacuum does this itself.
   */
  private async keepStatistics(results: LoadResult[]): Promise<void> {
    if (!this.connection.embedded) return;
    this.rowsSinceAnalyze += results.reduce((n, r) => n + r.transactionsNew, 0);
    if (this.rowsSinceAnalyze < Math.max(1_000, this.rowsAtAnalyze / 5)) return;
    await this.connection.session.query(`ANALYZE ${LOAD_TABLES.join(", ")}`);
    const [row] = await this.connection.session.query<{ n: number }>("SELECT COUNT(*) AS n FROM transactions");
    this.rowsAtAnalyze = Number(row?.n ?? 0);
    this.rowsSinceAnalyze = 0;
  }

  async recordOutcome(outcome: FileOutcome): Promise<void> {
    await this.ensureSchema();
    await this.connection.session.query(recordOutcomeStatement(POSTGRES_DIALECT, outcome));
  }

  async query<T = Record<string, unknown>>(sql: string): Promise<T[]> {
    return this.connection.session.query<T>(sql);
  }

  close(): Promise<void> {
    return this.connection.close();
  }
}
