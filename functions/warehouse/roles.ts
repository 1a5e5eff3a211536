// The database roles a warehouse's identities hold, created once by an administrator (or by the
// stack, as the namespace's admin, for a Serverless warehouse it creates: infra/warehouse-roles.ts):
//   coffeetl_reader  Grafana and other readers (reader-role.ts);
//   coffeetl_writer  the loader's rights: SELECT, INSERT, UPDATE, DELETE on the tables, whoever owns
//                    them. On Serverless the load function's IAM role carries `RedshiftDbRoles =
//                    coffeetl_writer`, so a replaced role (a new `IAMR:<name>` database user) gets
//                    the same rights at its first sign-in instead of "permission denied".
// Redshift has no CREATE ROLE IF NOT EXISTS, and a Data API statement resource is run again whenever
// Pulumi replaces it (its result expires after 24 h and a refresh replaces it): the roles are made by
// a procedure that checks first, so defining it and calling it are both safe to run any number of times.
import { LOAD_LOCK_TABLE } from "../core/schema.js";
import { READER_ROLE, postgresRoleBlock, readerTables, type ReaderRoleLog, type ReaderRoleRunner } from "./reader-role.js";

export const WRITER_ROLE = "coffeetl_writer";
export const ROLE_BOOTSTRAP_PROCEDURE = "coffeetl_create_roles";

/**
 * The administrator's bootstrap, for Redshift (and the PostgreSQL stand-in, with a `svv_roles` view):
 * a procedure that creates each role only when missing, then its call. Both statements may run twice.
 */
export function roleBootstrapStatements(roles: readonly string[] = [READER_ROLE, WRITER_ROLE]): string[] {
  for (const role of roles) if (!/^[a-z_][a-z0-9_]{0,62}$/.test(role)) throw new Error(`not a plain role name: ${role}`);
  const steps = roles.map(
    (role) => `  IF NOT EXISTS (SELECT 1 FROM svv_roles WHERE role_name = '${role}') THEN
    EXECUTE 'CREATE ROLE ${role}';
  END IF;`,
  );
  return [
    `CREATE OR REPLACE PROCEDURE ${ROLE_BOOTSTRAP_PROCEDURE}() AS $$
BEGIN
${steps.join("\n")}
END;
$$ LANGUAGE plpgsql`,
    `CALL ${ROLE_BOOTSTRAP_PROCEDURE}()`,
  ];
}

/** What the loader does to the tables: read, insert, update (supersede), delete (orphans). */
const WRITER_PRIVILEGES = "SELECT, INSERT, UPDATE, DELETE";

/** The tables the writer role needs: the data and bookkeeping, and the loaders' lock it takes first. */
const writerTables = (): string[] => [...readerTables(), LOAD_LOCK_TABLE];

/**
 * PostgreSQL, run by the loader in the schema transaction: the writer role (created when missing and
 * allowed) gets the loader's rights on the tables, and on tables the loader creates later. A loader
 * that does not own the tables (a replaced identity) only gets PostgreSQL's "no privileges were
 * granted" warning: its rights come from the role already.
 */
export function postgresWriterRoleStatements(role: string = WRITER_ROLE): string[] {
  return [
    postgresRoleBlock(role, [
      `GRANT ${WRITER_PRIVILEGES} ON ${writerTables().join(", ")} TO ${role};`,
      `EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT ${WRITER_PRIVILEGES} ON TABLES TO ${role}', current_schema());`,
    ]),
  ];
}

/** Redshift: the writer role's grants (the role itself comes from the bootstrap). */
export function redshiftWriterRoleStatements(role: string = WRITER_ROLE): string[] {
  return [
    `GRANT ${WRITER_PRIVILEGES} ON TABLE ${writerTables().join(", ")} TO ROLE ${role}`,
    `ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ${WRITER_PRIVILEGES} ON TABLES TO ROLE ${role}`,
  ];
}

/**
 * Grants the loader's rights to the writer role on Redshift, as the loader (the tables' owner). Never
 * throws for a missing role or permission: a missing role is a warning with the administrator's
 * statements; a loader that owns nothing (a replaced identity) already has the rights through the role.
 */
export async function ensureRedshiftWriterRole(db: ReaderRoleRunner, options: { log?: ReaderRoleLog; role?: string } = {}): Promise<boolean> {
  const role = options.role ?? WRITER_ROLE;
  const rows = await db.query(`SELECT role_name FROM svv_roles WHERE role_name = '${role}'`);
  if (rows.length === 0) {
    options.log?.warn(
      `coffeetl: the database role ${role} is missing: the loader's rights stay tied to its own database user, which a replaced IAM role loses; an administrator must run these once`,
      {
        statements: [...roleBootstrapStatements(), ...redshiftWriterRoleStatements(role)],
      },
    );
    return false;
  }
  for (const sql of redshiftWriterRoleStatements(role)) {
    try {
      await db.query(sql);
    } catch (error) {
      const message = (error as Error).message ?? String(error);
      if (/\b1023\b|serializ|concurrent/i.test(message)) return false; // a concurrent loader grants the same
      if (!/permission denied|not authorized|must be|privilege/i.test(message)) throw error;
      // Not the owner: a replaced identity, whose rights come through the role already.
      options.log?.warn(`coffeetl: this loader does not own the tables; it loads through the role ${role}`, { failed: sql });
      return false;
    }
  }
  return true;
}
