// `coffeetl forget FILE [--yes]`: withdraws a file loaded by mistake (a wrong branch's export, a test
// file). It is the retraction a header-only upload makes (issue 19 item 2), made without an upload: a
// version of the file's raw key with no rows is transformed and loaded, so the load's own supersede
// step removes the sales only this file held (sales another file also holds stay, re-homed), its
// load is marked superseded by the withdrawal, `status` shows the file withdrawn, and a later upload
// of the file loads again. The raw copy is never changed. Without --yes it only says what it would do.
import type { Warehouse } from "../functions/app/ports.js";
import type { CommandContext } from "./args.js";
import { openHome, openWarehouse } from "./home.js";
import { line, warn } from "./output.js";
import { keysMatching, literal } from "./status.js";

interface Plan {
  key: string;
  loadId: string;
  rowsRead: number;
  /** Sales this file brought. */
  brought: number;
  /** Of those, sales another current file also holds: they stay. */
  keptByOthers: number;
}

async function planFor(warehouse: Warehouse, file: string): Promise<Plan | string> {
  const keys = await keysMatching(warehouse, file);
  if (keys.length === 0) return `${file}: no file of that name has been ingested (see \`coffeetl status\`)`;
  if (keys.length > 1) return `${file} names ${keys.length} files: ${keys.join(", ")}; give the whole raw key`;
  const key = keys[0]!;
  const [current] = await warehouse.query<{ load_id: string; rows_read: number }>(
    `SELECT load_id, rows_read FROM loads WHERE source_key = ${literal(key)} AND superseded_by IS NULL`,
  );
  if (!current) return `${key}: has no loaded version to withdraw (see \`coffeetl status\`)`;
  if (Number(current.rows_read) === 0) return `${key}: already withdrawn`;
  const [counts] = await warehouse.query<{ brought: number; kept: number }>(
    `SELECT COUNT(*) AS brought,
       (SELECT COUNT(DISTINCT m.transaction_id) FROM load_sales m JOIN loads l ON l.load_id = m.load_id AND l.superseded_by IS NULL
          JOIN transactions t ON t.transaction_id = m.transaction_id WHERE t.source_key = ${literal(key)} AND l.source_key <> ${literal(key)}) AS kept
     FROM transactions WHERE source_key = ${literal(key)}`,
  );
  return { key, loadId: current.load_id, rowsRead: Number(current.rows_read), brought: Number(counts?.brought ?? 0), keptByOthers: Number(counts?.kept ?? 0) };
}

export async function forgetCommand(ctx: CommandContext): Promise<number> {
  const file = ctx.args[0]!;
  const { warehouse, close } = await openWarehouse(ctx.connection);
  let plan: Plan | string;
  try {
    plan = await planFor(warehouse, file);
  } finally {
    await close();
  }
  if (typeof plan === "string") {
    warn(`coffeetl: forget: ${plan}`);
    return 1;
  }
  const gone = plan.brought - plan.keptByOthers;
  const what =
    `${plan.key} (load ${plan.loadId.slice(0, 12)}, ${plan.rowsRead} rows): ${gone} sale${gone === 1 ? "" : "s"} and their items` +
    (plan.keptByOthers ? `; ${plan.keptByOthers} sale${plan.keptByOthers === 1 ? "" : "s"} another file also holds stay` : "");
  if (!ctx.values.yes) {
    line(`Would withdraw ${what}.`);
    line("Nothing changed. Run again with --yes to withdraw it; a later upload of the file loads it again.");
    return 0;
  }
  const local = await openHome(ctx.connection);
  try {
    const [outcome] = await local.withdraw([plan.key]);
    if (!outcome?.ok) {
      warn(`coffeetl: forget: ${plan.key}: ${outcome?.error ?? "not withdrawn"}`);
      return 1;
    }
    line(`Withdrew ${what}.`);
    return 0;
  } finally {
    await local.close();
  }
}
