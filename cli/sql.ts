// `coffeetl sql "QUERY" | --file FILE | - [--json | --csv] [--write]`: one statement on the warehouse.
// Without --write it must be a single SELECT (or WITH ... SELECT) that touches no file or program
// (cli/sql-guard.ts), and it runs in a READ ONLY transaction as the warehouse's read-only role
// (coffeetl_reader) where the connection may take it, so even a statement the check missed cannot
// write a file, run a program or read the server's files. Each query is sent as one statement
// (PGlite's and the server's extended protocol take exactly one), so `…; COMMIT; DROP …` cannot step
// out of the transaction. Columns sharing a name are all kept, as psql shows them.
import { readFile } from "node:fs/promises";
import { text } from "node:stream/consumers";
import type { ColumnRows } from "../functions/local/database.js";
import type { CommandContext } from "./args.js";
import { UsageError } from "./errors.js";
import { openWarehouse } from "./home.js";
import { warn, write } from "./output.js";
import { readOnlyRefusal } from "./sql-guard.js";
import { formatColumns } from "./table.js";

/** What `sql` needs of a warehouse. */
interface SqlRunner {
  query<T = Record<string, unknown>>(sql: string): Promise<T[]>;
  queryColumns(sql: string): Promise<ColumnRows>;
}

/** The read-only role of functions/warehouse/reader-role.ts. */
const READER_ROLE = "coffeetl_reader";

/**
 * Runs one statement in a READ ONLY transaction, as the read-only role when this connection may take
 * it, and rolls back. The guard is the caller's; this is what holds if the guard is bypassed.
 */
export async function runReadOnly(db: SqlRunner, query: string): Promise<ColumnRows> {
  await db.query("BEGIN TRANSACTION READ ONLY");
  try {
    const [role] = await db.query<{ usable: boolean }>(
      `SELECT pg_has_role(current_user, oid, 'MEMBER') AS usable FROM pg_roles WHERE rolname = '${READER_ROLE}'`,
    );
    // A superuser (PGlite always, a server's loader often) may also read and write server files: as
    // the reader it may only read the CoffeETL tables and the catalogue.
    if (role?.usable) await db.query(`SET LOCAL ROLE ${READER_ROLE}`);
    return await db.queryColumns(query);
  } catch (error) {
    throw readOnlyHint(error as Error);
  } finally {
    await db.query("ROLLBACK");
  }
}

async function queryText(ctx: CommandContext): Promise<string> {
  const file = ctx.values.file as string | undefined;
  const arg = ctx.args[0];
  if (file !== undefined && arg !== undefined) throw new UsageError('sql: give the query as "QUERY", or --file FILE, not both', "sql");
  if (file === undefined && arg === undefined) throw new UsageError('sql needs a query: "QUERY", --file FILE, or - to read standard input', "sql");
  const from = file ?? (arg === "-" ? "-" : undefined);
  if (from === undefined) return arg!;
  const query =
    from === "-"
      ? await text(process.stdin)
      : await readFile(from, "utf8").catch((e: NodeJS.ErrnoException) => {
          throw new Error(`sql: cannot read ${from}: ${e.code === "ENOENT" ? "no such file" : e.message}`);
        });
  if (!query.trim()) throw new Error(`sql: ${from === "-" ? "standard input" : from} holds no query`);
  return query;
}

/** Column names made unique for JSON objects: a repeated `count` becomes `count_2`, `count_3`. */
function uniqueNames(columns: string[]): string[] {
  const taken = new Set<string>();
  return columns.map((name) => {
    let unique = name;
    for (let n = 2; taken.has(unique); n++) unique = `${name}_${n}`;
    taken.add(unique);
    return unique;
  });
}

const csvCell = (v: unknown): string => {
  const s = v === null || v === undefined ? "" : v instanceof Date ? v.toISOString() : typeof v === "object" ? JSON.stringify(v) : String(v);
  return /[",\r\n]/.test(s) || /^\s|\s$/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
};

function formatCsv({ columns, rows }: ColumnRows): string {
  return [columns, ...rows].map((r) => r.map(csvCell).join(",")).join("\r\n") + "\r\n";
}

export async function sqlCommand(ctx: CommandContext): Promise<number> {
  if (ctx.values.json && ctx.values.csv) throw new UsageError("sql: choose --json or --csv, not both", "sql");
  const query = await queryText(ctx);
  if (!ctx.values.write) {
    const refusal = readOnlyRefusal(query);
    if (refusal) throw new Error(`sql: refused without --write: ${refusal}`);
  }
  if (ctx.connection.outputs !== undefined)
    throw new UsageError("sql: runs on a home or --database-url; on AWS use the Redshift query editor (status and rejects take --outputs)", "sql");
  const { warehouse, close } = await openWarehouse(ctx.connection);
  let result: ColumnRows;
  try {
    const runner = warehouse as SqlRunner;
    result = ctx.values.write ? await runner.queryColumns(query) : await runReadOnly(runner, query);
  } finally {
    await close();
  }
  if (ctx.values.json) {
    const names = uniqueNames(result.columns);
    const renamed = names.filter((n, i) => n !== result.columns[i]);
    if (renamed.length) warn(`coffeetl: columns sharing a name are ${renamed.join(", ")} in the JSON`);
    await write(
      JSON.stringify(
        result.rows.map((r) => Object.fromEntries(names.map((n, i) => [n, r[i]]))),
        null,
        2,
      ) + "\n",
    );
  } else if (ctx.values.csv) await write(formatCsv(result));
  else await write(formatColumns(result.columns, result.rows));
  return 0;
}

/** PostgreSQL's "cannot execute DROP TABLE in a read-only transaction" gains how to allow it. */
function readOnlyHint(error: Error): Error {
  if (/read-only transaction/.test(error.message)) error.message += " (sql is read-only; add --write to change the warehouse)";
  else if (/permission denied|must be superuser/.test(error.message))
    error.message += ` (sql reads as the read-only role ${READER_ROLE}; --write runs as the connection's own user)`;
  return error;
}
