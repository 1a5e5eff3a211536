// The home (`--home`, the CLI's state folder): which commands may create one, and opening its warehouse.
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import type { Storage, Warehouse } from "../functions/app/ports.js";
import type { LocalPipeline, LocalPipelineOptions } from "../functions/local/pipeline.js";
import type { EngineMode } from "../functions/local/pglite-engine.js";
import type { PostgresWarehouse } from "../functions/local/postgres-warehouse.js";
import { HOME_MARKER, isHome, warehouseDir } from "../functions/local/home-marker.js";
import { recordPath } from "../functions/local/warm-protocol.js";
import { UsageError } from "./errors.js";
import { WARM_IDLE_SECONDS } from "../functions/core/limits.js";

export interface Connection {
  home: string;
  databaseUrl?: string;
  /** The transaction-id key's file (the local pipeline reads it; reading commands ignore it). */
  keyFile?: string;
  /** A deployed stack's outputs (`pulumi stack output --json`): the warehouse and buckets on AWS (cli/outputs.ts). */
  outputs?: string;
  /** AWS region with `outputs` (default: $AWS_REGION, else the stack's). */
  region?: string;
}

/** Refuses a home that does not exist, so a typo in `--home` never starts a new, empty warehouse. */
export function requireHome(home: string, command: string): void {
  if (isHome(home)) return;
  const path = resolve(home);
  const why = existsSync(path) ? `${path} is not a CoffeETL home (no ${HOME_MARKER} in it)` : `${path} does not exist`;
  throw new UsageError(
    `${command}: no CoffeETL home: ${why}. Check --home (or $COFFEETL_HOME); \`coffeetl ingest\` or \`coffeetl demo\` creates a home.`,
    command,
  );
}

export async function openHome(connection: Connection, options: Partial<LocalPipelineOptions> = {}): Promise<LocalPipeline> {
  const engine = engineFor(options.engine ?? "heavy");
  const warm = engine === "light" ? warmSeconds() : 0;
  // PGlite's WebAssembly compiles on V8's background threads while the pipeline's code loads (~0.1 s
  // saved); a command the home's keeper will serve never opens PGlite itself, so it leaves the CPU to the keeper.
  const kept = warm > 0 && existsSync(recordPath(warehouseDir(connection.home)));
  if (connection.databaseUrl === undefined && !kept) (await import("../functions/local/pglite-engine.js")).warmEngine(engine);
  const { openLocalPipeline } = await import("../functions/local/pipeline.js");
  return openLocalPipeline({ ...connection, ...options, engine, warmSeconds: warm });
}

/** `$COFFEETL_WARM_SECONDS`: how long the warm warehouse waits for the next command (0: none is kept). */
function warmSeconds(): number {
  const given = process.env.COFFEETL_WARM_SECONDS;
  if (given === undefined || given === "") return WARM_IDLE_SECONDS;
  const seconds = Number(given);
  if (!Number.isInteger(seconds) || seconds < 0)
    throw new UsageError(`COFFEETL_WARM_SECONDS must be a whole number of seconds (0 keeps none), not ${JSON.stringify(given)}`, "coffeetl");
  return seconds;
}

/** `$COFFEETL_ENGINE` (light or heavy) overrides the command's own choice of how the embedded warehouse starts. */
function engineFor(chosen: EngineMode): EngineMode {
  const forced = process.env.COFFEETL_ENGINE;
  return forced === "light" || forced === "heavy" ? forced : chosen;
}

interface OpenedWarehouse {
  /** queryColumns: on PostgreSQL, rows with every column (sql keeps columns sharing a name). */
  warehouse: Warehouse & Partial<Pick<PostgresWarehouse, "queryColumns">>;
  close(): Promise<void>;
  /** The transformed bucket, where there is one: the home's folder, or the stack's bucket. */
  transformed?: Storage;
  /** A SQL string literal in the warehouse's dialect (Redshift reads a backslash as an escape). */
  literal?: (value: string) => string;
}

/**
 * The warehouse for a reading command: a server given by URL directly (it needs no home), else the
 * home's embedded warehouse through the local pipeline (which guards the home against a second process).
 */
/** `arrayTypes` false: the command reads only the project's own statements (see PostgresWarehouse's option). */
export async function openWarehouse(connection: Connection, engine: EngineMode = "light", arrayTypes = true): Promise<OpenedWarehouse> {
  if (connection.outputs !== undefined) {
    const { openStack, readOutputs } = await import("./outputs.js");
    const { redshiftString } = await import("../functions/aws/redshift-sql.js");
    const opened = await openStack(await readOutputs(connection.outputs, connection.region));
    return { warehouse: opened.warehouse, close: opened.close, transformed: opened.transformed, literal: (v) => redshiftString(v, "value") };
  }
  if (connection.databaseUrl) {
    const { PostgresWarehouse } = await import("../functions/local/postgres-warehouse.js");
    const warehouse = await PostgresWarehouse.open({ databaseUrl: connection.databaseUrl });
    return { warehouse, close: () => warehouse.close() };
  }
  const local = await openHome(connection, { readOnly: true, engine, arrayTypes });
  return { warehouse: local.warehouse, close: () => local.close() };
}
