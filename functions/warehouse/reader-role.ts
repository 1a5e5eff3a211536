// The read-only warehouse identity Grafana (and any other reader) uses: a database role
// `coffeetl_reader` with USAGE on the schema and SELECT on the CoffeETL tables, plus default
// privileges so tables the loader adds later are readable too. It is never granted INSERT, UPDATE,
// DELETE, TRUNCATE or DDL, so a dashboard user's Explore tab cannot change the warehouse.
//
// Who gets it:
// - PostgreSQL (local/server): logins an operator creates `IN ROLE coffeetl_reader`.
// - Redshift Serverless: the Grafana instance role carries the principal tag
//   `RedshiftDbRoles = coffeetl_reader`, so its `IAMR:<role>` database user holds the role.
// - Redshift provisioned: its own database user (default `coffeetl_grafana`, `readerDbUser` in the
//   connection JSON), created `PASSWORD DISABLE` (IAM temporary credentials only) and granted the role.
//
// The schema step (each warehouse's ensureSchema) runs it as the loader, which owns the tables and may
// therefore grant on them, and nothing else: only an object's owner (or a superuser) may grant on it,
// so the loader never grants on schema `public` (not its own; PUBLIC has USAGE on it already). Each
// grant runs on its own: one that fails is reported and the others are still made. Creating a role
// or user needs more (PostgreSQL CREATEROLE; Redshift superuser or the CREATE ROLE / CREATE USER
// permissions): when the loader lacks it, the step warns with the statements an administrator must
// run once, and the load goes on. (A Serverless warehouse the stack creates gets the role from the
// stack itself, as the namespace admin: infra/grafana.ts.) `readerTablesWithoutSelect` then says
// which tables the reader still cannot read: the load function's metric and alarm, and `coffeetl status`.
import { LOAD_LOCK_TABLE, SCHEMA_TABLES } from "../core/schema.js";

export const READER_ROLE = "coffeetl_reader";
export const DEFAULT_READER_DB_USER = "coffeetl_grafana";

/**
 * The tables the schema step creates, but the loaders' lock table (a reader holding even a share lock
 * on it would make loads wait). Staging tables are the loader's own and come and go.
 */
export function readerTables(): string[] {
  return SCHEMA_TABLES.filter((t) => t !== LOAD_LOCK_TABLE);
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_$.@+-]{0,126}$/;
const quoteIdent = (name: string): string => {
  if (!IDENTIFIER.test(name)) throw new Error(`not a valid database user name: ${JSON.stringify(name)}`);
  return `"${name.replace(/"/g, '""')}"`;
};
const quoteLiteral = (text: string): string => `'${text.replace(/'/g, "''")}'`;

/**
 * PostgreSQL: one idempotent statement (safe to run in the schema transaction, and concurrently:
 * a role created by a racing loader, or a loader without CREATEROLE, are warnings, not failures).
 */
export function postgresReaderRoleStatements(role: string = READER_ROLE): string[] {
  const r = quoteIdent(role);
  // Each grant on its own: a failure is a warning and the next grant is still made. USAGE on the
  // schema only where the loader owns it (PUBLIC has USAGE on schema public already).
  const each = (statement: string) => `BEGIN
    ${statement}
  EXCEPTION WHEN insufficient_privilege OR invalid_grant_operation THEN
    RAISE WARNING 'coffeetl: the loader could not run (%); an administrator must grant it to ${role}', SQLERRM;
  END;`;
  const grants = [
    `IF EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = current_schema() AND pg_has_role(nspowner, 'USAGE')) THEN
    ${each(`EXECUTE format('GRANT USAGE ON SCHEMA %I TO ${r}', current_schema());`)}
  END IF;`,
    each(`GRANT SELECT ON ${readerTables().join(", ")} TO ${r};`),
    each(`EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT SELECT ON TABLES TO ${r}', current_schema());`),
  ];
  return [postgresRoleBlock(role, grants)];
}

/**
 * A DO block that creates `role` (NOLOGIN) when missing, then runs `body`: a role created by a racing
 * loader is no failure, and a loader without CREATEROLE warns with the statement an administrator runs.
 */
export function postgresRoleBlock(role: string, body: string[]): string {
  const tag = `$${role.replace(/\W/g, "_")}$`;
  return `DO ${tag}
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = ${quoteLiteral(role)}) THEN
    BEGIN
      CREATE ROLE ${quoteIdent(role)} NOLOGIN;
    EXCEPTION
      WHEN duplicate_object OR unique_violation THEN NULL;
      WHEN insufficient_privilege THEN
        RAISE WARNING 'coffeetl: cannot create role ${role}; an administrator must run: CREATE ROLE ${role} NOLOGIN';
        RETURN;
    END;
  END IF;
  ${body.join("\n  ")}
END
${tag}`;
}

/** Redshift: the statements, given what exists already (Redshift has no IF NOT EXISTS for roles or users). */
export function redshiftReaderRoleStatements(
  state: { roleExists: boolean; userExists?: boolean },
  readerDbUser?: string,
  role: string = READER_ROLE,
): string[] {
  const r = quoteIdent(role);
  const out: string[] = [];
  if (!state.roleExists) out.push(`CREATE ROLE ${r}`);
  // No GRANT USAGE ON SCHEMA public: the loader does not own it (PUBLIC has USAGE on it already).
  out.push(`GRANT SELECT ON TABLE ${readerTables().join(", ")} TO ROLE ${r}`, `ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO ROLE ${r}`);
  if (readerDbUser !== undefined) {
    const u = quoteIdent(readerDbUser);
    // PASSWORD DISABLE: the user can only sign in with IAM temporary credentials (GetClusterCredentials).
    if (!state.userExists) out.push(`CREATE USER ${u} PASSWORD DISABLE`);
    out.push(`GRANT ROLE ${r} TO ${u}`);
  }
  return out;
}

/** What `ensureRedshiftReaderRole` needs: a query runner (the warehouse's own, as the loader). */
export interface ReaderRoleRunner {
  query<T = Record<string, unknown>>(sql: string): Promise<T[]>;
}

export interface ReaderRoleLog {
  warn(message: string, extra?: Record<string, unknown>): void;
}

/**
 * Creates (if missing) and grants the reader role on Redshift, and for a provisioned cluster the
 * reader's own user. Every statement runs on its own: one the loader may not run is reported (with
 * the statements an administrator must run once) and the rest still run. Never throws for a missing
 * permission or a concurrent schema step; returns true when every statement ran.
 */
export async function ensureRedshiftReaderRole(
  db: ReaderRoleRunner,
  options: { readerDbUser?: string; log?: ReaderRoleLog; role?: string } = {},
): Promise<boolean> {
  const role = options.role ?? READER_ROLE;
  const roleRows = await db.query(`SELECT role_name FROM svv_roles WHERE role_name = ${quoteLiteral(role)}`);
  const userRows =
    options.readerDbUser === undefined ? [] : await db.query(`SELECT usename FROM pg_user WHERE usename = ${quoteLiteral(options.readerDbUser)}`);
  const statements = redshiftReaderRoleStatements({ roleExists: roleRows.length > 0, userExists: userRows.length > 0 }, options.readerDbUser, role);
  const failed: { statement: string; error: string }[] = [];
  let raced = false;
  for (const sql of statements) {
    try {
      await db.query(sql);
    } catch (error) {
      const message = (error as Error).message ?? String(error);
      if (/already exists/i.test(message)) continue; // a concurrent loader got there first
      if (/\b1023\b|serializ|concurrent/i.test(message)) {
        raced = true; // another loader is granting the same at the same moment
        continue;
      }
      if (!/permission denied|not authorized|must be superuser|must be owner|privilege/i.test(message)) throw error;
      failed.push({ statement: sql, error: message });
    }
  }
  if (raced) options.log?.warn("coffeetl: reader role grants conflicted with a concurrent schema step; the next cold start grants again");
  if (failed.length) {
    options.log?.warn(
      "coffeetl: the loader may not make every grant of the read-only reader identity; Grafana cannot read until an administrator runs these once",
      {
        failed,
        statements: redshiftReaderRoleStatements({ roleExists: roleRows.length > 0, userExists: userRows.length > 0 }, options.readerDbUser, role).filter((s) =>
          failed.some((f) => f.statement === s),
        ),
      },
    );
  }
  return failed.length === 0 && !raced;
}

/** What the reader lacks: tables it may not SELECT, and whether the role exists at all. */
export interface ReaderGaps {
  role: string;
  roleExists: boolean;
  tablesWithoutSelect: string[];
  /** What an administrator runs once to close the gaps. */
  fix: string[];
}

/**
 * Which CoffeETL tables the reader role may not SELECT (in the warehouse's current schema). Redshift:
 * SVV_RELATION_PRIVILEGES (grants to roles; has_table_privilege knows only users). PostgreSQL:
 * has_table_privilege, which also counts grants through PUBLIC and role membership.
 */
export async function readerGaps(db: ReaderRoleRunner, role: string = READER_ROLE): Promise<ReaderGaps> {
  const r = quoteIdent(role);
  const tables = readerTables();
  let granted: Set<string>;
  let roleExists: boolean;
  let redshift = true;
  try {
    const rows = await db.query<{ relation_name: string }>(
      `SELECT relation_name FROM svv_relation_privileges WHERE identity_type = 'role' AND identity_name = ${quoteLiteral(role)} AND privilege_type = 'SELECT' AND namespace_name = current_schema()`,
    );
    granted = new Set(rows.map((x) => String(x.relation_name)));
    roleExists = (await db.query(`SELECT role_name FROM svv_roles WHERE role_name = ${quoteLiteral(role)}`)).length > 0;
  } catch (error) {
    if (!/svv_relation_privileges|does not exist/i.test(String((error as Error).message))) throw error;
    redshift = false;
    roleExists = (await db.query(`SELECT 1 FROM pg_roles WHERE rolname = ${quoteLiteral(role)}`)).length > 0;
    const rows = roleExists
      ? await db.query<{ t: string }>(
          `SELECT t FROM (VALUES ${tables.map((t) => `(${quoteLiteral(t)})`).join(", ")}) v(t) WHERE to_regclass(t) IS NOT NULL AND has_table_privilege(${quoteLiteral(role)}, t, 'SELECT')`,
        )
      : [];
    granted = new Set(rows.map((x) => String(x.t)));
  }
  const missing = tables.filter((t) => !granted.has(t));
  const fix = [
    ...(roleExists ? [] : [redshift ? `CREATE ROLE ${r}` : `CREATE ROLE ${r} NOLOGIN`]),
    ...(missing.length ? [`GRANT SELECT ON TABLE ${missing.join(", ")} TO ${redshift ? "ROLE " : ""}${r}`] : []),
  ];
  return { role, roleExists, tablesWithoutSelect: missing, fix };
}

/** One line for people (status, logs); undefined when the reader reads everything. */
export function describeReaderGaps(gaps: ReaderGaps): string | undefined {
  if (gaps.roleExists && gaps.tablesWithoutSelect.length === 0) return undefined;
  const what = gaps.roleExists ? `may not SELECT ${gaps.tablesWithoutSelect.join(", ")}` : "does not exist";
  return `Grafana's reader role ${gaps.role} ${what}: dashboards fail with "permission denied". An administrator runs once: ${gaps.fix.join("; ")}`;
}
