// The Warehouse port on PostgreSQL: embedded PGlite (file-backed, the local default) or a server
// reached by URL through `pg`. Same load SQL as Redshift (warehouse/load/); only COPY differs: one
// COPY per table streams every file of the batch, each file's header checked and dropped.
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { resolve } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
// Types only: each engine's package loads when a warehouse on it opens (pg ~0.1 s, PGlite ~0.05 s).
import type { PGlite, Transaction } from "@electric-sql/pglite";
import type { QueryArrayConfig, QueryConfig } from "pg";
import type { FileOutcome, LoadRequest, LoadResult, TableFile, Warehouse } from "../app/ports.js";
import {
  ADDED_COLUMN_DEFS,
  ADDED_COLUMNS,
  COLUMNS,
  CREATE_INDEXES,
  CREATE_TABLES,
  LINE_NOTES_COLUMNS,
  LOAD_TABLES,
  TABLES,
  type TableName,
} from "../core/schema.js";
import { LINE_NOTES_TABLE, deleteLineNotesStatement, lineNotesCsv, withLineNotes } from "../warehouse/line-notes.js";
import { postgresReaderRoleStatements } from "../warehouse/reader-role.js";
import { copyTemplate, ensureTemplate, isDataDir } from "./warehouse-template.js";
import { pgliteModule, type EngineMode } from "./pglite-engine.js";
import { recordPath } from "./warm-protocol.js";
import { postgresWriterRoleStatements } from "../warehouse/roles.js";
import { POSTGRES_DIALECT, type Dialect } from "../warehouse/literals.js";
import { loadStatements, resultsFromRows, stagingTable } from "../warehouse/load/index.js";
import { recordOutcomeStatement } from "../warehouse/sql.js";
import type { ColumnRows, Database, Session } from "./database.js";
import { COPY_SLICE_BYTES } from "../core/limits.js";

// Timestamps stay naive text (`YYYY-MM-DD HH:MM:SS`), as stored; counts become numbers; money stays exact text.
const TIMESTAMP_OID = 1114;
const INT8_OID = 20;
const keepText = (value: string) => value;

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
function concatenatedCsv(table: TableName, files: TableFile[]): Readable {
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
            const line = head
              .subarray(0, end < 0 ? head.length : end)
              .toString("utf8")
              .replace(/^\uFEFF/, "")
              .replace(/\r$/, "");
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
    async queryColumns(sql: string) {
      const result = await db.query<unknown[]>(sql, [], { rowMode: "array" });
      return { columns: result.fields.map((f) => f.name), rows: result.rows };
    },
    async copyCsv(table, columns, body) {
      for await (const blob of csvSlices(body)) {
        await db.query(`COPY ${table} (${columns.join(", ")}) FROM '/dev/blob' WITH (FORMAT csv, HEADER false)`, [], { blob });
      }
    },
  };
}

export type { EngineMode };
/** The light engine's settings (EngineMode, pglite-engine.ts). */
const LIGHT_SETTINGS = [
  // PostgreSQL zeroes its whole shared memory at every start (145 MB by default, 6 MB with these).
  "shared_buffers=4MB",
  // One backend in PGlite (single-user mode): no slots for clients, workers or replication.
  "max_connections=3",
  "autovacuum_worker_slots=1",
  "max_wal_senders=0",
  "max_replication_slots=0",
].flatMap((setting) => ["-c", setting]);

/** The portable schema, as the template holds it and every open checks it. */
const schemaStatements = () => [...CREATE_TABLES, ...ADDED_COLUMNS, ...CREATE_INDEXES, ...postgresReaderRoleStatements(), ...postgresWriterRoleStatements()];

/**
 * An embedded warehouse records which schema statements it has run (a comment on `loads`), so an
 * open checks one value instead of running them all again (~0.1 s of CPU on V8's baseline tier).
 */
const SCHEMA_MARK = `coffeetl schema ${createHash("sha256").update(schemaStatements().join("\0")).digest("hex").slice(0, 16)}`;
const SELECT_SCHEMA_MARK = "SELECT obj_description(to_regclass('public.loads'), 'pg_class') AS mark";
const SET_SCHEMA_MARK = `COMMENT ON TABLE loads IS '${SCHEMA_MARK}'`;
/**
 * The embedded warehouse never creates a database, so its template keeps only `postgres`: without
 * template0 and template1 a new home copies 400 files (25 MB) instead of 1,000 (39 MB).
 */
const DROP_TEMPLATE_DATABASES = ["template0", "template1"].flatMap((name) => [`ALTER DATABASE ${name} IS_TEMPLATE false`, `DROP DATABASE ${name}`]);

/** Runs initdb and the schema into an empty folder (once per machine: warehouse-template.ts). */
async function makeTemplate(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  const { PGlite } = await import("@electric-sql/pglite");
  const db = await PGlite.create(dir, { pgliteWasmModule: await pgliteModule("heavy") });
  try {
    await db.transaction(async (tx) => {
      for (const statement of [...schemaStatements(), SET_SCHEMA_MARK]) await tx.query(statement);
    });
    for (const statement of DROP_TEMPLATE_DATABASES) await db.query(statement);
    await db.query("CHECKPOINT");
  } finally {
    await db.close();
  }
}

/** Opens PGlite in this process (the keeper's own way in, warm-keeper.ts); PostgresWarehouse.open first stops a keeper. */
export async function openPglite(dataDir: string | undefined, mode: EngineMode, template: boolean, arrayTypes: boolean): Promise<Database> {
  if (dataDir && !isDataDir(dataDir)) {
    // A cache that cannot be written (a read-only home directory) costs the start, never the home: initdb in place.
    const copied =
      template &&
      (await ensureTemplate([...schemaStatements(), SET_SCHEMA_MARK, ...DROP_TEMPLATE_DATABASES], makeTemplate)
        .then((t) => copyTemplate(t, dataDir))
        .then(
          () => true,
          () => false,
        ));
    if (!copied) await mkdir(dataDir, { recursive: true });
  }
  const { PGlite } = await import("@electric-sql/pglite");
  // PGlite calls _initArrayTypes (public, documented) at the end of its start; refreshArrayTypes reads them later if ever needed.
  class WithoutArrayTypes extends PGlite {
    override async _initArrayTypes(options?: { force?: boolean }): Promise<void> {
      if (options?.force) await super._initArrayTypes(options);
    }
  }
  const db = new (arrayTypes ? PGlite : WithoutArrayTypes)(dataDir ?? "memory://", {
    parsers: { [TIMESTAMP_OID]: keepText, [INT8_OID]: Number },
    pgliteWasmModule: await pgliteModule(mode),
    ...(mode === "light" ? { startParams: [...PGlite.defaultStartParams, ...LIGHT_SETTINGS] } : {}),
  });
  await db.waitReady;
  return {
    session: pgliteSession(db),
    transaction: (work) => db.transaction((tx) => work(pgliteSession(tx))),
    close: () => db.close(),
    embedded: true,
  };
}

async function openServer(url: string): Promise<Database> {
  const [{ default: pg }, { from: copyFrom }] = await Promise.all([import("pg"), import("pg-copy-streams")]);
  const client = new pg.Client({
    connectionString: url,
    types: {
      getTypeParser: ((oid: number, format?: "text" | "binary") =>
        oid === TIMESTAMP_OID ? keepText : oid === INT8_OID ? Number : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
    },
  });
  // A server that goes away (restart, network) makes the client emit 'error', which unhandled would
  // crash the process mid-run: keep it, and fail every later call with one clear message instead.
  let lost: Error | undefined;
  client.on("error", (error: Error) => {
    lost ??= new Error(`lost the connection to the PostgreSQL server (${error.message})`);
  });
  const alive = () => {
    if (lost) throw lost;
  };
  await client.connect();
  const session: Session = {
    async query<T>(sql: string) {
      alive();
      // One statement per query, as in PGlite (extended protocol): `coffeetl sql`'s READ ONLY transaction can't be left.
      return (await client.query({ text: sql, queryMode: "extended" } as QueryConfig)).rows as T[];
    },
    async queryColumns(sql: string) {
      const result = await client.query({ text: sql, queryMode: "extended", rowMode: "array" } as QueryArrayConfig);
      return { columns: result.fields.map((f) => f.name), rows: result.rows as unknown[][] };
    },
    async copyCsv(table, columns, body) {
      alive();
      await pipeline(body, client.query(copyFrom(`COPY ${table} (${columns.join(", ")}) FROM STDIN WITH (FORMAT csv, HEADER false)`)));
    },
  };
  return {
    session,
    async transaction(work) {
      alive();
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
    close: () => (lost ? Promise.resolve() : client.end()),
    embedded: false,
  };
}

/**
 * The embedded warehouse. Light work with warmSeconds: through the home's keeper when one runs, else
 * opened here and handed to a new keeper on close (warm-warehouse.ts). Otherwise opened here, after
 * stopping any keeper (a data directory has one opener at a time).
 */
async function openEmbedded(options: PostgresWarehouseOptions): Promise<Database> {
  const mode = options.engine ?? "heavy";
  const dataDir = options.dataDir && resolve(options.dataDir);
  const open = () => openPglite(dataDir, mode, options.template ?? true, options.arrayTypes ?? true);
  if (!dataDir || mode !== "light" || !options.warmSeconds) {
    if (dataDir && existsSync(recordPath(dataDir))) await (await import("./warm-warehouse.js")).stopWarm(dataDir);
    return open();
  }
  const warm = await import("./warm-warehouse.js");
  const kept = await warm.openWarm(dataDir);
  if (kept) return kept;
  const database = await open();
  const idle = options.warmSeconds;
  return {
    ...database,
    async close() {
      await database.close();
      // Keeping the warehouse warm only saves the next command's start: a home this user cannot
      // write (read-only media, another's folder) simply keeps no keeper.
      try {
        warm.startKeeper(dataDir, idle);
      } catch {
        /* opened cold next time */
      }
    },
  };
}

/** SQLSTATEs worth another attempt: serialization failure, deadlock, and a first-time CREATE race. */
const RETRYABLE = new Set(["40001", "40P01"]);
const CREATE_RACE = new Set(["23505", "42P07", "42710"]);
const codeOf = (error: unknown) => (error as { code?: string })?.code;

interface PostgresWarehouseOptions {
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
  /** Embedded only: start for a little work or a lot (EngineMode; default heavy). */
  engine?: EngineMode;
  /** Embedded only: a new data directory starts as a copy of the cached template (default true), not by initdb. */
  template?: boolean;
  /**
   * Embedded only: read the database's array types at start so array columns come back as arrays
   * (PGlite's default, true). A command that runs only the project's own statements, which return
   * no arrays, passes false: the catalog query costs about 0.1 s of a day file's ingest.
   */
  arrayTypes?: boolean;
  /**
   * Embedded, light only: keep the warehouse open between commands in a keeper process that exits
   * after this many idle seconds (warm-warehouse.ts); 0 or absent opens it in this process.
   */
  warmSeconds?: number;
}

export class PostgresWarehouse implements Warehouse {
  private schemaReady = false;
  /** Rows inserted since the last ANALYZE, and the table size then. */
  private rowsSinceAnalyze = 0;
  private rowsAtAnalyze = 0;
  /** On a server, whether rowsAtAnalyze has been read from the server's own statistics. */
  private serverCounted = false;

  private constructor(
    private readonly database: Database,
    private readonly options: PostgresWarehouseOptions,
  ) {}

  static async open(options: PostgresWarehouseOptions): Promise<PostgresWarehouse> {
    const database = options.databaseUrl ? await openServer(options.databaseUrl) : await openEmbedded(options);
    return new PostgresWarehouse(database, options);
  }

  async ensureSchema(): Promise<void> {
    if (this.schemaReady) return;
    const { embedded } = this.database;
    if (embedded) {
      const [row] = await this.database.session.query<{ mark: string | null }>(SELECT_SCHEMA_MARK);
      if (row?.mark === SCHEMA_MARK) {
        this.schemaReady = true;
        return;
      }
    }
    for (let attempt = 1; ; attempt++) {
      try {
        await this.database.transaction(async (s) => {
          for (const statement of CREATE_TABLES) await s.query(statement);
          // Only what is missing: ADD COLUMN and CREATE INDEX need the tables' owner even with IF NOT
          // EXISTS, and a replaced loader identity is not the owner (it loads through coffeetl_writer).
          const columns = new Set(
            // (pg_attribute, not information_schema: that hides the columns of tables one has no right on.)
            (
              await s.query<{ c: string }>(
                "SELECT t.relname || '.' || a.attname AS c FROM pg_attribute a JOIN pg_class t ON t.oid = a.attrelid JOIN pg_namespace n ON n.oid = t.relnamespace WHERE n.nspname = current_schema() AND a.attnum > 0 AND NOT a.attisdropped",
              )
            ).map((r) => r.c),
          );
          const indexes = new Set((await s.query<{ i: string }>("SELECT indexname AS i FROM pg_indexes WHERE schemaname = current_schema()")).map((r) => r.i));
          const missing = [
            ...ADDED_COLUMNS.filter((_, i) => !columns.has(`${ADDED_COLUMN_DEFS[i]!.table}.${ADDED_COLUMN_DEFS[i]!.column}`)),
            ...CREATE_INDEXES.filter((sql) => !indexes.has(/IF NOT EXISTS (\w+)/.exec(sql)?.[1] ?? "")),
          ];
          for (const statement of [...missing, ...postgresReaderRoleStatements(), ...postgresWriterRoleStatements()]) await s.query(statement);
          if (embedded) await s.query(SET_SCHEMA_MARK);
        });
        break;
      } catch (error) {
        // Two first-time CREATE TABLE IF NOT EXISTS racing each other: the loser tries again.
        if (!CREATE_RACE.has(codeOf(error) ?? "") || attempt >= 3) throw error;
      }
    }
    this.schemaReady = true;
  }

  async loadBatch(requests: LoadRequest[]): Promise<LoadResult[]> {
    await this.ensureSchema();
    const maxAttempts = this.options.maxAttempts ?? 6;
    const base = this.options.retryBaseMs ?? 100;
    for (let attempt = 1; ; attempt++) {
      try {
        const results = await this.database.transaction((s) => this.loadIn(s, requests));
        await this.keepStatistics(results);
        return results;
      } catch (error) {
        if (!RETRYABLE.has(codeOf(error) ?? "")) throw error;
        if (attempt >= maxAttempts) {
          throw new Error(
            `load of ${requests.length} manifest${requests.length === 1 ? "" : "s"} gave up after ${attempt} attempts on concurrent-load conflicts (${codeOf(error)}: ${(error as Error).message})`,
            { cause: error },
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
    // A batch refused for its key throws KeyMismatchError here, rolling back (nothing was written).
    const results = resultsFromRows(requests, await s.query<Record<string, unknown>>(sql.result));
    // The files' rejected lines and warnings, in the load's transaction (warehouse/line-notes.ts).
    const noted = withLineNotes(requests);
    if (noted.length) {
      await s.query(deleteLineNotesStatement(noted));
      await s.copyCsv(LINE_NOTES_TABLE, LINE_NOTES_COLUMNS, lineNotesCsv(noted, { header: false }));
    }
    for (const statement of sql.cleanup) await s.query(statement);
    return results;
  }

  /**
   * Embedded PostgreSQL runs no autovacuum. Analyzing every table after every load cost over half
   * of a backfill; instead the big tables are analyzed when they have grown by a fifth (and at
   * first), as autovacuum would. A server's autovacuum does this too, but a minute or more later:
   * a dashboard opened right after a first big load found tables without statistics and ran for
   * minutes. So on a server the same rule runs, counted from the size the server last analyzed
   * (never analyzed: zero), and an ingest into an analyzed warehouse adds no ANALYZE of its own.
   */
  private async keepStatistics(results: LoadResult[]): Promise<void> {
    if (!this.database.embedded && !this.serverCounted) {
      const [row] = await this.database.session.query<{ n: number | string }>(
        "SELECT GREATEST(reltuples, 0) AS n FROM pg_class WHERE oid = 'transactions'::regclass",
      );
      this.rowsAtAnalyze = Number(row?.n ?? 0);
      this.serverCounted = true;
    }
    this.rowsSinceAnalyze += results.reduce((n, r) => n + r.transactionsNew, 0);
    if (this.rowsSinceAnalyze < Math.max(1_000, this.rowsAtAnalyze / 5)) return;
    await this.database.session.query(`ANALYZE ${LOAD_TABLES.join(", ")}`);
    const [row] = await this.database.session.query<{ n: number }>("SELECT COUNT(*) AS n FROM transactions");
    this.rowsAtAnalyze = Number(row?.n ?? 0);
    this.rowsSinceAnalyze = 0;
  }

  async recordOutcome(outcome: FileOutcome): Promise<void> {
    await this.ensureSchema();
    await this.database.session.query(recordOutcomeStatement(POSTGRES_DIALECT, outcome));
  }

  async query<T = Record<string, unknown>>(sql: string): Promise<T[]> {
    return this.database.session.query<T>(sql);
  }

  async queryColumns(sql: string): Promise<ColumnRows> {
    return this.database.session.queryColumns(sql);
  }

  close(): Promise<void> {
    return this.database.close();
  }
}
