// `coffeetl sql "QUERY" [--json] [--write]`: one statement on the warehouse, inside a READ ONLY
// transaction unless --write is given. Each query is sent as one statement (PGlite's and the server's
// extended protocol take exactly one), so `…; COMMIT; DROP …` cannot step out of the transaction.
import type { CommandContext } from "./args.js";
import { openWarehouse } from "./home.js";
import { write } from "./output.js";
import { formatTable } from "./table.js";

export async function sqlCommand(ctx: CommandContext): Promise<number> {
  const query = ctx.args[0]!;
  const { warehouse, close } = await openWarehouse(ctx.connection);
  let rows: Record<string, unknown>[];
  try {
    if (ctx.values.write) rows = await warehouse.query(query);
    else {
      await warehouse.query("BEGIN TRANSACTION READ ONLY");
      try {
        rows = await warehouse.query(query);
      } catch (error) {
        throw readOnlyHint(error as Error);
      } finally {
        await warehouse.query("ROLLBACK");
      }
    }
  } finally {
    await close();
  }
  await write(ctx.values.json ? JSON.stringify(rows, null, 2) + "\n" : formatTable(rows));
  return 0;
}

/** PostgreSQL's "cannot execute DROP TABLE in a read-only transaction" gains how to allow it. */
function readOnlyHint(error: Error): Error {
  if (/read-only transaction/.test(error.message)) error.message += " (sql is read-only; add --write to change the warehouse)";
  return error;
}
