// `coffeetl status [--failed]` and `coffeetl rejects FILE`: what loaded and what failed, with reasons,
// read with plain SQL from the warehouse's `file_outcomes` and `loads` tables (functions/core/schema.ts),
// and a file's rejected lines and warnings from its `line_notes` (or, for a load made before the
// warehouse kept them, from its transformed prefix while it lasts). With --outputs, the same reads go
// to the deployed stack's warehouse through the Data API (cli/outputs.ts).
import { realpath } from "node:fs/promises";
import { join, resolve, sep } from "node:path";
import { text } from "node:stream/consumers";
import { parse as parseCsv } from "csv-parse/sync";
import { loadIdOf } from "../functions/app/load-manifests.js";
import type { Storage, Warehouse } from "../functions/app/ports.js";
import { MANIFEST_FILE, REJECTS_FILE, parseManifest, transformedPrefix } from "../functions/core/manifest.js";
import { FolderStorage } from "../functions/local/folder-storage.js";
import { describeReaderGaps, readerGaps } from "../functions/warehouse/reader-role.js";
import { LINE_NOTES_TABLE, selectLineNotesStatement } from "../functions/warehouse/line-notes.js";
import { dateOption, intOption, type CommandContext } from "./args.js";
import { isHome } from "../functions/local/home-marker.js";
import { openWarehouse } from "./home.js";
import { line, write } from "./output.js";
import { formatTable } from "./table.js";

/** A SQL string literal (standard_conforming_strings, the default on PostgreSQL and Redshift). */
export const literal = (value: string): string => `'${value.replace(/'/g, "''")}'`;

export interface OutcomeRow {
  source_key: string;
  source_version: string | null;
  source_sha256: string | null;
  outcome: string;
  stage: string;
  reason: string | null;
  rows_read: number | null;
  transactions_new: number | null;
  transactions_duplicate: number | null;
  rows_rejected: number | null;
  warnings: number | null;
  recorded_at: string;
}

async function hasTable(warehouse: Warehouse, table: string): Promise<boolean> {
  const rows = await warehouse.query<{ n: number }>(
    `SELECT COUNT(*) AS n FROM information_schema.tables WHERE table_name = ${literal(table)} AND table_schema = current_schema()`,
  );
  return Number(rows[0]?.n) > 0;
}

const FROM_LOADS = `SELECT source_key, NULL AS source_version, source_sha256, 'loaded' AS outcome, 'load' AS stage, NULL AS reason, rows_read,
  transactions_new, transactions_duplicate, rows_rejected, warnings, loaded_at AS recorded_at FROM loads l`;

/**
 * Each file's latest outcome: from `file_outcomes` (every outcome, failures included), and from
 * `loads` for loads it does not list (made before the warehouse had the table), or from `loads` alone
 * where the table is missing (only loaded files are known then). A version superseded in the same
 * transaction that loaded its successor never hides the successor.
 */
async function latestOutcomes(warehouse: Warehouse, where: string[]): Promise<{ rows: OutcomeRow[]; fromLoadsOnly: boolean }> {
  const fromLoadsOnly = !(await hasTable(warehouse, "file_outcomes"));
  const source = fromLoadsOnly
    ? FROM_LOADS
    : `SELECT source_key, source_version, source_sha256, outcome, stage, reason, rows_read, transactions_new, transactions_duplicate,
         rows_rejected, warnings, recorded_at FROM file_outcomes
       UNION ALL ${FROM_LOADS} WHERE NOT EXISTS (SELECT 1 FROM file_outcomes f WHERE f.load_id = l.load_id)`;
  const rows = await warehouse.query<OutcomeRow>(
    `SELECT * FROM (
       SELECT o.*, ROW_NUMBER() OVER (PARTITION BY source_key ORDER BY recorded_at DESC, CASE outcome WHEN 'superseded' THEN 1 ELSE 0 END) AS nth FROM (${source}) o
     ) latest WHERE nth = 1${where.map((w) => ` AND ${w}`).join("")}
     ORDER BY recorded_at DESC, source_key`,
  );
  return { rows, fromLoadsOnly };
}

const num = (v: number | null) => (v === null || v === undefined ? "" : String(v));

export async function statusCommand(ctx: CommandContext): Promise<number> {
  const limit = intOption(ctx, "limit", 0, 1_000_000) ?? 20;
  const since = dateOption(ctx, "since");
  const where = since ? [`recorded_at >= ${literal(since.toISOString().replace("T", " ").replace("Z", ""))}`] : [];
  const { warehouse, close } = await openWarehouse(ctx.connection, "light", false);
  let all: OutcomeRow[];
  let fromLoadsOnly: boolean;
  let readerProblem: string | undefined;
  try {
    ({ rows: all, fromLoadsOnly } = await latestOutcomes(warehouse, where));
    // Whether Grafana's reader can read every table (a check that cannot run says nothing).
    readerProblem = await readerGaps(warehouse).then(describeReaderGaps, () => undefined);
  } finally {
    await close();
  }
  const chosen = ctx.values.failed ? all.filter((r) => r.outcome === "failed") : all;
  const shown = limit > 0 ? chosen.slice(0, limit) : chosen;
  // For scripts: `status --failed` exits 1 while any file's latest outcome is a failure.
  const exitStatus = ctx.values.failed && chosen.length > 0 ? 1 : 0;
  if (ctx.values.json) {
    await write(
      JSON.stringify(
        shown.map(({ nth: _, ...r }: OutcomeRow & { nth?: unknown }) => r),
        null,
        2,
      ) + "\n",
    );
    return exitStatus;
  }
  const tally = new Map<string, number>();
  for (const r of all) tally.set(r.outcome, (tally.get(r.outcome) ?? 0) + 1);
  const counts = ["loaded", "already_loaded", "superseded", "withdrawn", "failed"]
    .filter((o) => tally.has(o))
    .map((o) => `${tally.get(o)} ${o.replace("_", " ")}`);
  line(
    `${all.length} file${all.length === 1 ? "" : "s"}${since ? ` since ${ctx.values.since}` : ""}${counts.length ? `: ${counts.join(", ")}` : ""} (latest outcome of each file)`,
  );
  if (fromLoadsOnly) line("This warehouse has no file_outcomes table yet: only loaded files are listed, failures are not recorded.");
  if (readerProblem) line(readerProblem);
  if (shown.length === 0) {
    const none =
      ctx.connection.outputs !== undefined
        ? "No files yet: an upload to the raw bucket loads within minutes."
        : "No files yet: `coffeetl ingest PATH...` loads some.";
    line(ctx.values.failed ? "No failed files." : none);
    return 0;
  }
  const table = ctx.values.failed
    ? shown.map((r) => ({ recorded: r.recorded_at.slice(0, 19), stage: r.stage, file: r.source_key, reason: r.reason ?? "" }))
    : shown.map((r) => ({
        recorded: r.recorded_at.slice(0, 19),
        outcome: r.outcome,
        rows: num(r.rows_read),
        new: num(r.transactions_new),
        duplicates: num(r.transactions_duplicate),
        rejected: num(r.rows_rejected),
        warnings: num(r.warnings),
        file: r.source_key,
        ...(all.some((x) => x.reason) ? { reason: r.reason ?? "" } : {}),
      }));
  await write(formatTable(table));
  if (chosen.length > shown.length) line(`(${chosen.length - shown.length} more; --limit 0 lists all)`);
  const on = ctx.connection.outputs !== undefined ? ` --outputs ${ctx.connection.outputs}` : "";
  if (ctx.values.failed)
    line(`After fixing the cause: \`coffeetl reprocess PREFIX${on}\` runs them again; \`coffeetl rejects FILE${on}\` shows a file's rejected lines.`);
  return exitStatus;
}

/** Raw keys FILE may mean: the key itself, the key of the path it was ingested from (locally), or a key's end. */
export async function keysMatching(warehouse: Warehouse, file: string, lit: (value: string) => string = literal, local = true): Promise<string[]> {
  const exact = new Set([file.replace(/^\/+/, "")]);
  if (local) for (const path of [resolve(file), await realpath(file).catch(() => undefined)]) if (path) exact.add(path.split(sep).filter(Boolean).join("/"));
  const tables = (await hasTable(warehouse, "file_outcomes")) ? ["file_outcomes", "loads"] : ["loads"];
  const condition = `source_key IN (${[...exact].map(lit).join(", ")})`;
  const found = async (where: string) =>
    (await warehouse.query<{ source_key: string }>(tables.map((t) => `SELECT source_key FROM ${t} WHERE ${where}`).join(" UNION ") + " ORDER BY 1")).map(
      (r) => r.source_key,
    );
  const keys = await found(condition);
  const suffix = `%/${file.replace(/^\.?\/+/, "").replace(/[\\%_]/g, (c) => `\\${c}`)}`;
  return keys.length ? keys : found(`source_key LIKE ${lit(suffix)}`);
}

interface LineNote {
  line: number;
  kind: string;
  reason: string;
}

/**
 * Rejected lines from rejects.csv (`line_number,reason`, and a kind column if there is one) and
 * warnings from warnings.csv: the files the load copies into `line_notes`.
 */
function lineNotes(rejectsCsv: string, warningsCsv?: string): LineNote[] {
  const read = (csv: string, kind: string) =>
    (parseCsv(csv, { columns: true, skip_empty_lines: true, bom: true }) as Record<string, string>[]).map((r) => ({
      line: Number(r.line_number ?? r.line),
      kind: (r.kind ?? r.type ?? r.severity ?? kind).toLowerCase().replace(/^reject$/, "rejected"),
      reason: r.reason ?? "",
    }));
  const notes = [...read(rejectsCsv, "rejected"), ...(warningsCsv !== undefined ? read(warningsCsv, "warning") : [])];
  return notes.sort((a, b) => a.line - b.line || a.kind.localeCompare(b.kind));
}

/** A file's counts and notes: from the warehouse's line_notes, else from its transformed files while they last. */
interface FileNotes {
  rowsRead: number;
  rejected: number;
  warnings: number;
  notes: LineNote[];
  /** Where the notes came from. */
  from: "warehouse" | "transformed files";
}

async function notesInWarehouse(warehouse: Warehouse, loadId: string): Promise<LineNote[] | undefined> {
  if (!(await hasTable(warehouse, LINE_NOTES_TABLE))) return undefined;
  const rows = await warehouse.query<{ line_number: number; kind: string; reason: string | null }>(selectLineNotesStatement(loadId));
  return rows.map((r) => ({ line: Number(r.line_number), kind: r.kind, reason: r.reason ?? "" }));
}

async function notesInFiles(transformed: Storage, prefix: string): Promise<FileNotes> {
  const read = async (name: string) => text((await transformed.get(`${prefix}/${name}`)).body);
  const manifest = parseManifest(await read(MANIFEST_FILE), `${prefix}/${MANIFEST_FILE}`);
  const rejects = await read(manifest.files.rejects ?? REJECTS_FILE);
  const warnings = manifest.files.warnings ? await read(manifest.files.warnings) : undefined;
  return {
    rowsRead: manifest.rowsRead,
    rejected: manifest.rejected,
    warnings: manifest.warnings,
    notes: lineNotes(rejects, warnings),
    from: "transformed files",
  };
}

export async function rejectsCommand(ctx: CommandContext): Promise<number> {
  const file = ctx.args[0]!;
  const onAws = ctx.connection.outputs !== undefined;
  const opened = await openWarehouse(ctx.connection, "light", false);
  const { warehouse, close } = opened;
  const lit = opened.literal ?? literal;
  const transformed =
    opened.transformed ??
    (ctx.connection.databaseUrl && !isHome(ctx.connection.home) ? undefined : new FolderStorage(join(resolve(ctx.connection.home), "transformed")));
  let keys: string[];
  let latest: OutcomeRow | undefined;
  let found: FileNotes | undefined;
  let missing: string | undefined;
  try {
    keys = await keysMatching(warehouse, file, lit, !onAws);
    if (keys.length === 1) latest = (await latestOutcomes(warehouse, [`source_key = ${lit(keys[0]!)}`])).rows[0];
    // A failed file has no lines in the warehouse: its reason is all there is.
    if (latest?.source_sha256 && latest.outcome !== "failed") {
      const prefix = transformedPrefix(keys[0]!, latest.source_sha256);
      const expected = Number(latest.rows_rejected ?? 0) + Number(latest.warnings ?? 0);
      const kept = latest.rows_read === null ? undefined : await notesInWarehouse(warehouse, loadIdOf(prefix));
      if (kept && (kept.length > 0 || expected === 0)) {
        found = {
          rowsRead: Number(latest.rows_read),
          rejected: Number(latest.rows_rejected ?? 0),
          warnings: Number(latest.warnings ?? 0),
          notes: kept,
          from: "warehouse",
        };
      } else if (transformed) {
        found = await notesInFiles(transformed, prefix).catch((error: Error) => {
          missing = error.message;
          return undefined;
        });
      } else missing = "no transformed files here";
    }
  } finally {
    await close();
  }
  if (keys.length === 0)
    throw new Error(`rejects: no file ${JSON.stringify(file)} in the warehouse (\`coffeetl status${onAws ? " --outputs FILE" : ""}\` lists the files)`);
  if (keys.length > 1) throw new Error(`rejects: ${keys.length} files match ${JSON.stringify(file)}; give more of the key:\n  ${keys.join("\n  ")}`);
  const key = keys[0]!;
  if (!latest) throw new Error(`rejects: no outcome recorded for ${key}`);
  if (latest.outcome === "failed") {
    line(`${key}: failed at ${latest.stage}: ${latest.reason ?? "no reason recorded"}; no line was loaded`);
    return 0;
  }
  if (!found) {
    throw new Error(
      `rejects: ${key}: its lines are not in the warehouse (loaded before the warehouse kept them) and its transformed files are not ` +
        `${onAws ? "in the transformed bucket any more (kept 30 days)" : "in this home"} (${missing}); \`coffeetl reprocess\` of the file keeps them`,
    );
  }
  const { notes } = found;
  if (ctx.values.json) {
    await write(
      JSON.stringify({ key, outcome: latest.outcome, rowsRead: found.rowsRead, rejected: found.rejected, warnings: found.warnings, lines: notes }, null, 2) +
        "\n",
    );
    return 0;
  }
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;
  line(
    `${key}: ${plural(found.rowsRead, "row")} read, ${found.rejected} rejected, ${plural(found.warnings, "warning")}` +
      ` (${latest.outcome.replace("_", " ")}${latest.reason ? `: ${latest.reason}` : ""}, ${latest.recorded_at.slice(0, 19)})`,
  );
  if (notes.length === 0) {
    line("Every line was read; no warnings.");
    return 0;
  }
  await write(formatTable(notes.map((n) => ({ line: String(n.line), kind: n.kind, reason: n.reason }))));
  const listedWarnings = notes.filter((n) => n.kind === "warning").length;
  if (found.warnings > listedWarnings) line(`(the first ${listedWarnings} of ${found.warnings} warnings have their line recorded)`);
  return 0;
}
