// What the local warehouse needs of its database, whichever serves it: PGlite in this process, a
// PostgreSQL server (postgres-warehouse.ts), or the home's warm warehouse (warm-warehouse.ts).
import type { Readable } from "node:stream";

export interface ColumnRows {
  columns: string[];
  rows: unknown[][];
}

/** What the warehouse needs of a connection: run SQL, stream a CSV in, run a transaction. */
export interface Session {
  query<T>(sql: string): Promise<T[]>;
  /** Rows as arrays beside the column names, so columns sharing a name are all kept (`coffeetl sql`). */
  queryColumns(sql: string): Promise<ColumnRows>;
  /** COPY of headerless CSV into a table. */
  copyCsv(table: string, columns: readonly string[], body: Readable): Promise<void>;
}
export interface Database {
  session: Session;
  transaction<T>(work: (session: Session) => Promise<T>): Promise<T>;
  close(): Promise<void>;
  /** PGlite runs no autovacuum: statistics are the loader's job. */
  embedded: boolean;
}
