// The warehouse's database roles (functions/warehouse/roles.ts) on the Redshift-like PostgreSQL
// stand-in (tests/fixtures/redshift-standin.ts): the administrator's bootstrap runs any number of
// times; the loader's rights belong to coffeetl_writer, so a replaced loader identity (on Serverless
// a new IAMR user, mapped to the role by its IAM role's RedshiftDbRoles tag) loads at once.
// Run alone: node --import tsx tests/warehouse-roles.test.ts
import { randomBytes } from "node:crypto";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { openLocalPipeline } from "../functions/local/pipeline.js";
import { READER_ROLE } from "../functions/warehouse/reader-role.js";
import { ensureRedshiftWriterRole, redshiftWriterRoleStatements, roleBootstrapStatements, WRITER_ROLE } from "../functions/warehouse/roles.js";
import { createRedshiftLikeDatabase } from "./fixtures/redshift-standin.js";
import { fixture, tempDir } from "./helpers.js";

test("the bootstrap is a procedure that checks svv_roles, then its call: no bare CREATE ROLE", () => {
  const [define, call] = roleBootstrapStatements();
  assert.match(define!, /^CREATE OR REPLACE PROCEDURE coffeetl_create_roles\(\)/);
  for (const role of [READER_ROLE, WRITER_ROLE]) assert.ok(define!.includes(`IF NOT EXISTS (SELECT 1 FROM svv_roles WHERE role_name = '${role}')`), role);
  assert.is(call, "CALL coffeetl_create_roles()");
  assert.throws(() => roleBootstrapStatements(["x; DROP TABLE loads"]), /not a plain role name/);
});

test("Redshift: the writer role gets the loader's rights; missing role or not the owner warn, never fail", async () => {
  const sent: string[] = [];
  const warnings: string[] = [];
  const log = { warn: (m: string) => void warnings.push(m) };
  const runner = (roles: string[], deny = false) => ({
    async query(sql: string) {
      sent.push(sql);
      if (sql.startsWith("SELECT role_name FROM svv_roles")) return roles.map((role_name) => ({ role_name })) as never[];
      if (deny) throw new Error("ERROR: permission denied for relation transactions");
      return [];
    },
  });
  assert.is(await ensureRedshiftWriterRole(runner([WRITER_ROLE]), { log }), true);
  assert.equal(sent.slice(1), redshiftWriterRoleStatements());
  assert.match(sent[1]!, /^GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE .*transactions.* TO ROLE coffeetl_writer$/);
  assert.is(await ensureRedshiftWriterRole(runner([]), { log }), false);
  assert.match(warnings.at(-1)!, /coffeetl_writer is missing/);
  assert.is(await ensureRedshiftWriterRole(runner([WRITER_ROLE], true), { log }), false);
  assert.match(warnings.at(-1)!, /does not own the tables/);
});

const adminUrl = process.env.COFFEETL_TEST_DATABASE_URL;
if (!adminUrl) {
  console.log("[skip] warehouse roles on the PostgreSQL stand-in: COFFEETL_TEST_DATABASE_URL is not set (run scripts/start-postgres.sh)");
} else {
  test("stand-in: the bootstrap applied twice (and again after the roles exist) succeeds; a bare CREATE ROLE does not", async () => {
    const db = await createRedshiftLikeDatabase(adminUrl);
    const suffix = randomBytes(3).toString("hex");
    const roles = [`coffeetl_reader_${suffix}`, `coffeetl_writer_${suffix}`];
    try {
      for (let run = 1; run <= 3; run++) for (const sql of roleBootstrapStatements(roles)) await db.query(sql);
      const rows = await db.query<{ role_name: string }>(`SELECT role_name FROM svv_roles WHERE role_name LIKE '%_${suffix}' ORDER BY 1`);
      assert.equal(
        rows.map((r) => r.role_name),
        roles,
      );
      // The stand-in fails as Redshift does on what the old stack ran.
      const bare = await db.query(`CREATE ROLE ${roles[0]}`).then(
        () => undefined,
        (e: Error) => e.message,
      );
      assert.match(String(bare), /already exists/);
    } finally {
      await db.drop();
      for (const role of roles) await db.query(`DROP ROLE IF EXISTS ${role}`).catch(() => undefined);
    }
  });

  test("stand-in: the loader's identity replaced (a new database user in coffeetl_writer), the next load succeeds; without the role it is refused", async () => {
    const db = await createRedshiftLikeDatabase(adminUrl);
    const suffix = randomBytes(3).toString("hex");
    const [first, replaced, unmapped] = [`iamr_load_a_${suffix}`, `iamr_load_b_${suffix}`, `iamr_load_c_${suffix}`];
    const home = await tempDir();
    const ingestAs = async (user: string, file: string) => {
      const local = await openLocalPipeline({ home: home.path, databaseUrl: db.urlAs(user) });
      try {
        return await local.ingest([fixture(file)]);
      } finally {
        await local.close();
      }
    };
    try {
      for (const sql of roleBootstrapStatements()) await db.query(sql);
      // What RedshiftDbRoles does at a Serverless sign-in: the IAMR user holds coffeetl_writer.
      await db.query(`CREATE ROLE ${first} LOGIN IN ROLE ${WRITER_ROLE}`);
      const [a] = await ingestAs(first, "canonical.csv");
      assert.ok(a!.ok, a!.error);
      const owners = await db.query<{ o: string }>("SELECT DISTINCT tableowner AS o FROM pg_tables WHERE schemaname = 'public'");
      assert.equal(
        owners.map((r) => r.o),
        [first],
        "the first loader owns the tables",
      );

      // The load role is replaced: the old user can no longer sign in, a new one appears.
      await db.query(`ALTER ROLE ${first} NOLOGIN`);
      await db.query(`CREATE ROLE ${replaced} LOGIN IN ROLE ${WRITER_ROLE}`);
      const [b] = await ingestAs(replaced, "legacy_crlf.csv");
      assert.ok(b!.ok, b!.error);
      assert.ok(b!.transactionsNew > 0, "new sales loaded by the replaced identity");
      const loads = await db.query<{ n: number }>("SELECT COUNT(*)::int AS n FROM loads");
      assert.is(loads[0]!.n, 2);

      // Without the mapping (the old stack's situation): permission denied, the file fails.
      await db.query(`CREATE ROLE ${unmapped} LOGIN`);
      const refused = await ingestAs(unmapped, "padded.csv").then(
        ([c]) => (c!.ok ? "loaded" : c!.error),
        (e: Error) => e.message,
      );
      assert.match(String(refused), /permission denied/);
    } finally {
      await db.drop();
      for (const role of [first, replaced, unmapped]) await db.query(`DROP ROLE IF EXISTS ${role}`).catch(() => undefined);
      await home.remove();
    }
  });
}

test.run();
