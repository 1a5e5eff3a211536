// The Warehouse port on PostgreSQL: embedded PGlite (file-backed, the local default) or a server
// reached by URL through `pg`. Same load SQL as Redshift (warehouse/sql.ts); only COPY differs.
import { mkdir } from "node:fs/promises";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { PGlite, type Transaction } from "@electric-sql/pglite";
import pg from "pg";
import { from as copyFrom } from "pg-copy-streams";
import type { LoadRequest, LoadResult, TableFile, Warehouse } from "../app/ports.js";
import { COLUMNS, TABLES } from "../core/schema.js";
import {
  CREATE_TABLES,
  createStagingStatements,
  dropStagingStatements,
  loadFacts,
  loadResultFromRow,
  mergeStatements,
  selectLoadStatement,
  stagingTable,
} from "../warehouse/sql.js";

/** What the warehouse needs of a connection: run SQL, stream a CSV in, run a transaction. */
interface Session {
  query<T>(sql: string): Promise<T[]>;
  copyCsv(table: string, columns: readonly string[], body: Readable): Promise<void>;
}
interface Connection {
  session: Session;
  transaction<T>(work: (session: Session) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

// Timestamps stay naive text (`YYYY-MM-DD HH:MM:SS`), as stored; counts become numbers; money stays exact text.
const TIMESTAMP_OID = 1114;
const INT8_OID = 20;
const keepText = (value: string) => value;

const copySql = (table: string, columns: readonly string[], source: string) =>
  `COPY ${table} (${columns.join(", ")}) FROM ${source} WITH (FORMAT csv, HEADER true)`;

/** PGlite's COPY reads a whole Blob: feed it the file in slices cut at line ends, header kept on the first. */
const COPY_SLICE_BYTES = 4 * 1024 * 1024;

async function* csvSlices(body: Readable): AsyncGenerator<{ blob: Blob; first: boolean }> {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let first = true;
  for await (const chunk of body) {
    pending.push(chunk as Buffer);
    pendingBytes += (chunk as Buffer).length;
    if (pendingBytes < COPY_SLICE_BYTES) continue;
    const joined = Buffer.concat(pending);
    const cut = joined.lastIndexOf(10) + 1;
    if (cut === 0) continue;
    yield { blob: new Blob([joined.subarray(0, cut)]), first };
    first = false;
    pending = [joined.subarray(cut)];
    pendingBytes = pending[0]!.length;
  }
  if (pendingBytes > 0 || first) yield { blob: new Blob(pending), first };
}

function pgliteSession(db: PGlite | Transaction): Session {
  return {
    async query<T>(sql: string) {
      return (await db.query<T>(sql)).rows;
    },
    async copyCsv(table, columns, body) {
      for await (const { blob, first } of csvSlices(body)) {
        await db.query(
          `COPY ${table} (${columns.join(", ")}) FROM '/dev/blob' WITH (FORMAT csv, HEADER ${first ? "true" : "false"})`,
          [],
          { blob },
        );
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
      await pipeline(body, client.query(copyFrom(copySql(table, columns, "STDIN"))));
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
        await client.query("ROLLBACK");
        throw error;
      }
    },
    close: () => client.end(),
  };
}

export interface PostgresWarehouseOptions {
  /** `postgres://…` for a server; otherwise embedded PGlite. */
  databaseUrl?: string;
  /** PGlite data directory; omitted means in memory. */
  dataDir?: string;
}

export class PostgresWarehouse implements Warehouse {
  private schemaReady = false;

  private constructor(private readonly connection: Connection) {}

  static async open(options: PostgresWarehouseOptions): Promise<PostgresWarehouse> {
    const connection = options.databaseUrl ? await openServer(options.databaseUrl) : await openPglite(options.dataDir);
    return new PostgresWarehouse(connection);
  }

  async ensureSchema(): Promise<void> {
    if (this.schemaReady) return;
    await this.connection.transaction(async (s) => {
      for (const statement of CREATE_TABLES) await s.query(statement);
    });
    this.schemaReady = true;
  }

  async findLoad(loadId: string): Promise<LoadResult | undefined> {
    await this.ensureSchema();
    const [row] = await this.connection.session.query<Record<string, unknown>>(selectLoadStatement(loadId));
    return row ? loadResultFromRow(row, false) : undefined;
  }

  async load(request: LoadRequest): Promise<LoadResult> {
    await this.ensureSchema();
    const inserted = await this.connection.transaction(async (s) => {
      for (const statement of createStagingStatements()) await s.query(statement);
      for (const file of request.files) await copyFile(s, file);
      // Fresh statistics let the planner hash-join the staging tables instead of guessing.
      for (const file of request.files) await s.query(`ANALYZE ${stagingTable(file.table)}`);
      const before = await s.query(selectLoadStatement(request.loadId));
      for (const statement of mergeStatements(loadFacts(request))) await s.query(statement);
      for (const statement of dropStagingStatements()) await s.query(statement);
      return before.length === 0;
    });
    // Embedded PostgreSQL runs no autovacuum: keep the planner's statistics current ourselves
    // (ANALYZE samples a bounded number of rows, so this stays cheap as tables grow).
    if (inserted) await this.connection.session.query(`ANALYZE ${[...TABLES, "loads"].join(", ")}`);
    const [row] = await this.connection.session.query<Record<string, unknown>>(selectLoadStatement(request.loadId));
    if (!row) throw new Error(`load ${request.loadId}: no loads row after the load`);
    return loadResultFromRow(row, inserted);
  }

  async query<T = Record<string, unknown>>(sql: string): Promise<T[]> {
    return this.connection.session.query<T>(sql);
  }

  close(): Promise<void> {
    return this.connection.close();
  }
}

async function copyFile(session: Session, file: TableFile): Promise<void> {
  await session.copyCsv(stagingTable(file.table), COLUMNS[file.table], await file.open());
}
