// `coffeetl forget FILE [--yes]`: withdraws a file loaded by mistake (a wrong branch's export, a test
// file). It is the withdrawal a header-only upload makes (issue 19 item 2), made without an upload: a
// version of the file's raw key with no rows is transformed and loaded, so the load's own supersede
// step removes the sales only this file held (sales another file also holds stay, re-homed), its
// load is marked superseded by the withdrawal, `status` shows the file withdrawn, and a later upload
// of the file loads again. The raw copy is never changed. Without --yes it only says what it would do.
//
// With --outputs (the deployed stack): planned through the Data API as the reader; the withdrawal is
// written to the transformed bucket keyed with the stack's transaction-id key (read from SSM, never
// printed), and the bucket's notification sends its manifest to the load function like any upload's.
// The command then waits, within --timeout, for file_outcomes to show the file withdrawn.
import { loadIdOf } from "../functions/app/load-manifests.js";
import type { Warehouse } from "../functions/app/ports.js";
import { MANIFEST_FILE } from "../functions/core/manifest.js";
import { intOption, type CommandContext } from "./args.js";
import { UsageError } from "./errors.js";
import { openHome, openWarehouse } from "./home.js";
import type { OpenedStack } from "./outputs.js";
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

async function planFor(warehouse: Warehouse, file: string, lit: (value: string) => string = literal, local = true, on = ""): Promise<Plan | string> {
  const keys = await keysMatching(warehouse, file, lit, local);
  if (keys.length === 0) return `${file}: no file of that name has been ingested (see \`coffeetl status${on}\`)`;
  if (keys.length > 1) return `${file} names ${keys.length} files: ${keys.join(", ")}; give the whole raw key`;
  const key = keys[0]!;
  const [current] = await warehouse.query<{ load_id: string; rows_read: number }>(
    `SELECT load_id, rows_read FROM loads WHERE source_key = ${lit(key)} AND superseded_by IS NULL`,
  );
  if (!current) return `${key}: has no loaded version to withdraw (see \`coffeetl status${on}\`)`;
  if (Number(current.rows_read) === 0) return `${key}: already withdrawn`;
  const [counts] = await warehouse.query<{ brought: number; kept: number }>(
    `SELECT COUNT(*) AS brought,
       (SELECT COUNT(DISTINCT m.transaction_id) FROM load_sales m JOIN loads l ON l.load_id = m.load_id AND l.superseded_by IS NULL
          JOIN transactions t ON t.transaction_id = m.transaction_id WHERE t.source_key = ${lit(key)} AND l.source_key <> ${lit(key)}) AS kept
     FROM transactions WHERE source_key = ${lit(key)}`,
  );
  return { key, loadId: current.load_id, rowsRead: Number(current.rows_read), brought: Number(counts?.brought ?? 0), keptByOthers: Number(counts?.kept ?? 0) };
}

/** Options of the AWS path (tests: a brisk poll). */
interface ForgetOptions {
  /** Between two looks at file_outcomes (ms, default 5000). */
  pollMs?: number;
  sleep?: (ms: number) => Promise<void>;
}

export async function forgetCommand(ctx: CommandContext, options: ForgetOptions = {}): Promise<number> {
  const file = ctx.args[0]!;
  if (ctx.connection.outputs === undefined && ctx.values.timeout !== undefined)
    throw new UsageError("forget: --timeout goes with --outputs (the deployed stack)", "forget");
  if (ctx.connection.outputs !== undefined) return forgetOnAws(ctx, file, options);
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
  const what = describe(plan);
  if (!ctx.values.yes) return dryRun(what);
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

function describe(plan: Plan): string {
  const gone = plan.brought - plan.keptByOthers;
  return (
    `${plan.key} (load ${plan.loadId.slice(0, 12)}, ${plan.rowsRead} rows): ${gone} sale${gone === 1 ? "" : "s"} and their items` +
    (plan.keptByOthers ? `; ${plan.keptByOthers} sale${plan.keptByOthers === 1 ? "" : "s"} another file also holds stay` : "")
  );
}

function dryRun(what: string): number {
  line(`Would withdraw ${what}.`);
  line("Nothing changed. Run again with --yes to withdraw it; a later upload of the file loads it again.");
  return 0;
}

async function forgetOnAws(ctx: CommandContext, file: string, options: ForgetOptions): Promise<number> {
  const timeout = intOption(ctx, "timeout", 1, 3600) ?? 300;
  const on = ` --outputs ${ctx.connection.outputs}`;
  const [{ openStack, readOutputs }, { redshiftString }] = await Promise.all([import("./outputs.js"), import("../functions/aws/redshift-sql.js")]);
  const lit = (v: string) => redshiftString(v, "value");
  const opened = await openStack(await readOutputs(ctx.connection.outputs!, ctx.connection.region));
  try {
    const plan = await planFor(opened.warehouse, file, lit, false, on);
    if (typeof plan === "string") {
      warn(`coffeetl: forget: ${plan}`);
      return 1;
    }
    const what = describe(plan);
    if (!ctx.values.yes) return dryRun(what);
    // A failure of this withdrawal recorded by an earlier attempt is not this attempt's.
    const before = await latestOutcome(opened.warehouse, plan.key, lit);
    const manifestKey = await writeOnAws(opened, plan.key);
    line(`Wrote the withdrawal of ${plan.key} to s3://${opened.stack.transformedBucketName}/${manifestKey}; the load function takes it from there.`);
    const outcome = await waitForWithdrawal(
      opened.warehouse,
      plan.key,
      loadIdOf(manifestKey.slice(0, -MANIFEST_FILE.length - 1)),
      lit,
      timeout * 1000,
      before,
      options,
    );
    if (outcome === "withdrawn") {
      line(`Withdrew ${what}.`);
      return 0;
    }
    if (outcome === undefined) {
      warn(
        `coffeetl: forget: ${plan.key}: not shown withdrawn within ${timeout} s. The withdrawal is written and the load function may still take it: ` +
          `\`coffeetl status${on}\` shows the file withdrawn once it is loaded; the load function's dead-letter queue holds it if the load failed.`,
      );
    } else warn(`coffeetl: forget: ${plan.key}: the load of the withdrawal failed: ${outcome.reason}`);
    return 1;
  } finally {
    await opened.close();
  }
}

/** Writes the withdrawal keyed with the stack's transaction-id key; returns its manifest key. */
async function writeOnAws(opened: OpenedStack, key: string): Promise<string> {
  const { stack, clients, transformed } = opened;
  if (!stack.transactionIdKeyParameter) {
    throw new Error(
      `${stack.source} has no transactionIdKeyParameter output (a stack of an older release?): \`pulumi up\` with this release, then write the outputs again`,
    );
  }
  const [{ readTransactionIdKey }, { transformWithdrawal }] = await Promise.all([import("../functions/aws/ssm.js"), import("../functions/app/withdraw.js")]);
  // The same key the extract-transform function uses: the load refuses transformed files keyed otherwise.
  const transactionIdKey = await readTransactionIdKey(clients.ssm, stack.transactionIdKeyParameter, { maxAttempts: 3 }).catch((error: Error) => {
    throw new Error(`the transaction secret of ${stack.source}: ${error.message} (your AWS identity needs ssm:GetParameter on it and kms:Decrypt)`);
  });
  const written = await transformWithdrawal({ transformed, transactionIdKey }, key);
  // Written before (forget, a re-upload, forget again): nothing was rewritten, so no notification
  // would fire; writing the manifest again sends it to the load, which makes that version current again.
  if (written.status === "skipped")
    await transformed.put(written.manifestKey, JSON.stringify(written.manifest, null, 2) + "\n", { contentType: "application/json" });
  return written.manifestKey;
}

interface OutcomeRow {
  load_id: string | null;
  outcome: string;
  reason: string | null;
  recorded_at: string;
}

async function latestOutcome(warehouse: Warehouse, key: string, lit: (value: string) => string): Promise<OutcomeRow | undefined> {
  const [latest] = await warehouse.query<OutcomeRow>(
    `SELECT load_id, outcome, reason, recorded_at FROM file_outcomes WHERE source_key = ${lit(key)}
     ORDER BY recorded_at DESC, CASE outcome WHEN 'superseded' THEN 1 ELSE 0 END LIMIT 1`,
  );
  return latest;
}

/** Polls the key's latest file_outcomes row until it is the withdrawal's (withdrawn or failed), or the bound passes (undefined). */
async function waitForWithdrawal(
  warehouse: Warehouse,
  key: string,
  loadId: string,
  lit: (value: string) => string,
  timeoutMs: number,
  before: OutcomeRow | undefined,
  options: ForgetOptions,
): Promise<"withdrawn" | { reason: string } | undefined> {
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const tty = process.stderr.isTTY;
  const started = Date.now();
  let shown = false;
  try {
    for (;;) {
      const latest = await latestOutcome(warehouse, key, lit);
      if (latest?.load_id === loadId && latest.outcome === "withdrawn") return "withdrawn";
      const fresh = String(latest?.recorded_at) !== String(before?.recorded_at);
      if (latest?.load_id === loadId && latest.outcome === "failed" && fresh) return { reason: latest.reason ?? "no reason recorded" };
      const waited = Date.now() - started;
      if (waited >= timeoutMs) return undefined;
      // One progress line: rewritten on a terminal, printed once elsewhere.
      const text = `… waiting for the load function to withdraw it (${Math.round(waited / 1000)} s of at most ${timeoutMs / 1000} s)`;
      if (tty) process.stderr.write(`\r\x1b[K${text}`);
      else if (!shown) warn(text);
      shown = true;
      await sleep(Math.min(options.pollMs ?? 5000, Math.max(0, timeoutMs - waited)));
    }
  } finally {
    if (shown && tty) process.stderr.write("\r\x1b[K");
  }
}
