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
// therefore grant on them. Creating a role or user needs more (PostgreSQL CREATEROLE; Redshift
// superuser or the CREATE ROLE / CREATE USER permissions): when the loader lacks it, the step warns
// with the statements an administrator must run once, and the load goes on. (A Serverless warehouse
// the stack creates gets the role from the stack itself, as the namespace admin: infra/grafana.ts.)
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
  const grants = [
    `EXECUTE format('GRANT USAGE ON SCHEMA %I TO ${r}', current_schema());`,
    `GRANT SELECT ON ${readerTables().join(", ")} TO ${r};`,
    `EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT SELECT ON TABLES TO ${r}', current_schema());`,
  ];
  return [
    `DO $coffeetl_reader$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = ${quoteLiteral(role)}) THEN
    BEGIN
      CREATE ROLE ${r} NOLOGIN;
    EXCEPTION
      WHEN duplicate_object OR unique_violation THEN NULL;
      WHEN insufficient_privilege THEN
        RAISE WARNING 'coffeetl: cannot create role ${role}; an administrator must run: CREATE ROLE ${role} NOLOGIN';
        RETURN;
    END;
  END IF;
  ${grants.join("\n  ")}
END
$coffeetl_reader$`,
  ];
}

/** Redshift: the statements, given what exists already (Redshift has no IF NOT EXISTS for roles or users). */
export function redshiftReaderRoleStatements(state: { roleExists: boolean; userExists?: boolean }, readerDbUser?: string, role: string = READER_ROLE): string[] {
  const r = quoteIdent(role);
  const out: string[] = [];
  if (!state.roleExists) out.push(`CREATE ROLE ${r}`);
  out.push(
    `GRANT USAGE ON SCHEMA public TO ROLE ${r}`,
    `GRANT SELECT ON TABLE ${readerTables().join(", ")} TO ROLE ${r}`,
    `ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO ROLE ${r}`,
  );
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
 * reader's own user. Never throws for a missing permission: it warns with the statements an
 * administrator must run once, and returns false.
 */
export async function ensureRedshiftReaderRole(db: ReaderRoleRunner, options: { readerDbUser?: string; log?: ReaderRoleLog; role?: string } = {}): Promise<boolean> {
  const role = options.role ?? READER_ROLE;
  const roleRows = await db.query(`SELECT role_name FROM svv_roles WHERE role_name = ${quoteLiteral(role)}`);
  const userRows = options.readerDbUser === undefined ? [] : await db.query(`SELECT usename FROM pg_user WHERE usename = ${quoteLiteral(options.readerDbUser)}`);
  const statements = redshiftReaderRoleStatements({ roleExists: roleRows.length > 0, userExists: userRows.length > 0 }, options.readerDbUser, role);
  for (const sql of statements) {
    try {
      await db.query(sql);
    } catch (error) {
      const message = (error as Error).message ?? String(error);
      if (/already exists/i.test(message)) continue; // a concurrent loader got there first
      if (/\b1023\b|serializ|concurrent/i.test(message)) {
        // Another loader is granting at the same moment: its grants are the same ones.
        options.log?.warn("coffeetl: reader role grants conflicted with a concurrent schema step; the next cold start grants again", { failed: sql });
        return false;
      }
      if (!/permission denied|not authorized|must be superuser|privilege/i.test(message)) throw error;
      options.log?.warn("coffeetl: the loader may not create the read-only reader identity; Grafana cannot read until an administrator runs these once", {
        failed: sql,
        statements: redshiftReaderRoleStatements({ roleExists: false, userExists: false }, options.readerDbUser, role),
      });
      return false;
    }
  }
  return true;
}
