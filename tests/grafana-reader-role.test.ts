// The read-only warehouse identity (functions/warehouse/reader-role.ts). On a PostgreSQL server: the
// schema step creates the reader role; a login in it reads every table after a load and cannot
// INSERT, DELETE or DROP. On Redshift (a recording runner): the statements, in order, idempotent,
// and a loader without the permission warns with the administrator's statements instead of failing.
// Run alone: node --import tsx tests/grafana-reader-role.test.ts
import { randomBytes } from "node:crypto";
import pg from "pg";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { openLocalPipeline } from "../functions/local/pipeline.js";
import { CREATE_TABLES } from "../functions/core/schema.js";
import {
  describeReaderGaps,
  ensureRedshiftReaderRole,
  READER_ROLE,
  readerGaps,
  readerTables,
  redshiftReaderRoleStatements,
} from "../functions/warehouse/reader-role.js";
import { fixture, runCoffeetlSync, tempDir } from "./helpers.js";

test("the reader reads the tables the schema step creates, nothing else", () => {
  const tables = readerTables();
  for (const t of ["branches", "products", "transactions", "transaction_items", "loads"]) assert.ok(tables.includes(t), t);
  assert.not.ok(tables.some((t) => t.startsWith("stage_")));
});

test("Redshift: role, grants, default privileges, and the provisioned reader's own IAM-only user", async () => {
  const ran: string[] = [];
  const db = {
    async query<T>(sql: string): Promise<T[]> {
      ran.push(sql);
      return [] as T[];
    },
  };
  assert.ok(await ensureRedshiftReaderRole(db, { readerDbUser: "coffeetl_grafana" }));
  const writes = ran.filter((s) => !s.startsWith("SELECT"));
  assert.equal(writes, [
    `CREATE ROLE "${READER_ROLE}"`,
    `GRANT SELECT ON TABLE ${readerTables().join(", ")} TO ROLE "${READER_ROLE}"`,
    `ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO ROLE "${READER_ROLE}"`,
    `CREATE USER "coffeetl_grafana" PASSWORD DISABLE`,
    `GRANT ROLE "${READER_ROLE}" TO "coffeetl_grafana"`,
  ]);
  for (const s of writes) assert.not.match(s, /\b(INSERT|UPDATE|DELETE|TRUNCATE|ALL)\b/, s);
  // Existing role and user: only grants (Redshift has no IF NOT EXISTS for either).
  assert.not.ok(redshiftReaderRoleStatements({ roleExists: true, userExists: true }, "u1").some((s) => /^CREATE/.test(s)));
  // Serverless: no user (the instance role's IAMR user gets the role through its RedshiftDbRoles tag).
  assert.not.ok(redshiftReaderRoleStatements({ roleExists: true }).some((s) => /USER/.test(s)));
  assert.throws(() => redshiftReaderRoleStatements({ roleExists: true }, 'x"; DROP TABLE loads; --'), /not a valid database user name/);
});

test("Redshift: no grant the loader cannot make (schema public is not its own); each grant on its own, failures reported", async () => {
  assert.not.ok(
    redshiftReaderRoleStatements({ roleExists: false }, "u").some((s) => /ON SCHEMA/.test(s)),
    "never a grant on the schema",
  );
  const ran: string[] = [];
  const warnings: Record<string, unknown>[] = [];
  const db = {
    async query<T>(sql: string): Promise<T[]> {
      ran.push(sql);
      if (sql.startsWith("GRANT SELECT")) throw new Error("ERROR: permission denied for relation transactions");
      return [] as T[];
    },
  };
  assert.is(await ensureRedshiftReaderRole(db, { readerDbUser: "coffeetl_grafana", log: { warn: (_m, extra) => warnings.push(extra ?? {}) } }), false);
  for (const later of ["ALTER DEFAULT PRIVILEGES", "CREATE USER", "GRANT ROLE"])
    assert.ok(
      ran.some((s) => s.startsWith(later)),
      `${later} still ran after the failed grant`,
    );
  assert.is(warnings.length, 1);
  assert.equal(
    (warnings[0]!.failed as { statement: string }[]).map((f) => f.statement),
    [`GRANT SELECT ON TABLE ${readerTables().join(", ")} TO ROLE "${READER_ROLE}"`],
  );
});

test("Redshift: a loader without CREATE ROLE warns with the admin's statements and does not fail the load", async () => {
  const warnings: Record<string, unknown>[] = [];
  const db = {
    async query<T>(sql: string): Promise<T[]> {
      if (sql.startsWith("CREATE ROLE")) throw new Error("ERROR: permission denied to create role");
      return [] as T[];
    },
  };
  assert.is(await ensureRedshiftReaderRole(db, { log: { warn: (_m, extra) => warnings.push(extra ?? {}) } }), false);
  assert.is(warnings.length, 1);
  assert.ok((warnings[0]!.statements as string[]).includes(`CREATE ROLE "${READER_ROLE}"`));
  warnings.length = 0;
  // A concurrent schema step (Redshift's serializable conflict) is a warning too.
  const racing = {
    query: async (sql: string) => (sql.startsWith("GRANT") ? Promise.reject(new Error("ERROR: 1023 DETAIL: Serializable isolation violation")) : []),
  };
  assert.is(await ensureRedshiftReaderRole(racing as never, { log: { warn: (_m, extra) => warnings.push(extra ?? {}) } }), false);
  assert.is(warnings.length, 1);
  // Any other failure is not swallowed.
  const broken = { query: async () => Promise.reject(new Error("ERROR: syntax error")) };
  let threw = false;
  await ensureRedshiftReaderRole(broken as never).catch((e: Error) => (threw = /syntax error/.test(e.message)));
  assert.ok(threw, "a syntax error propagates");
});

const adminUrl = process.env.COFFEETL_TEST_DATABASE_URL;
if (!adminUrl) {
  console.log("[skip] reader role on PostgreSQL: COFFEETL_TEST_DATABASE_URL is not set (run scripts/start-postgres.sh)");
} else {
  /** A fresh database on the server; `url` connects as `user` (trust authentication). */
  const database = async (admin: pg.Client, user?: string) => {
    const name = `coffeetl_grants_${randomBytes(4).toString("hex")}`;
    await admin.query(`CREATE DATABASE ${name}`);
    const url = new URL(adminUrl);
    url.pathname = `/${name}`;
    const as = (login: string) => Object.assign(new URL(url.toString()), { username: login }).toString();
    return { name, url: url.toString(), as, user: user ? as(user) : url.toString() };
  };

  test("Redshift-like stand-in: a loader that owns the tables but not schema public still leaves the reader SELECT on every table; a gap is found", async () => {
    const suffix = randomBytes(4).toString("hex");
    const loaderName = `loader_${suffix}`;
    const readerLogin = `grafana_${suffix}`;
    const admin = new pg.Client({ connectionString: adminUrl });
    await admin.connect();
    const db = await database(admin);
    const owner = new pg.Client({ connectionString: db.url });
    const loader = new pg.Client({ connectionString: db.as(loaderName) });
    const reader = new pg.Client({ connectionString: db.as(readerLogin) });
    try {
      // Redshift's shape: schema public is not the loader's (only its owner may grant on it; PUBLIC has
      // USAGE); the loader may create tables there and owns them; the reader role exists (made by an
      // administrator or the stack); SVV views over the catalogue.
      await admin.query(`DO $$ BEGIN CREATE ROLE ${READER_ROLE} NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$`);
      await admin.query(`CREATE ROLE ${loaderName} LOGIN`);
      await admin.query(`CREATE ROLE ${readerLogin} LOGIN IN ROLE ${READER_ROLE}`);
      await owner.connect();
      await owner.query(`GRANT CREATE ON SCHEMA public TO ${loaderName}`);
      await owner.query("CREATE VIEW svv_roles AS SELECT rolname::text AS role_name FROM pg_roles");
      await owner.query(`CREATE VIEW svv_relation_privileges AS SELECT p.table_schema::text AS namespace_name, p.table_name::text AS relation_name,
  p.privilege_type::text AS privilege_type, p.grantee::text AS identity_name, CASE WHEN r.rolcanlogin THEN 'user' ELSE 'role' END AS identity_type
FROM information_schema.table_privileges p JOIN pg_roles r ON r.rolname = p.grantee`);
      await owner.query("GRANT SELECT ON svv_roles, svv_relation_privileges TO PUBLIC");
      await loader.connect();
      for (const sql of CREATE_TABLES) await loader.query(sql.replace(/,\s*PRIMARY KEY \([^)]*\)/, ""));
      // Redshift's syntax and its refusal: where PostgreSQL only warns that a non-owner granted
      // nothing, Redshift fails the statement.
      const notices: string[] = [];
      loader.on("notice", (n) => notices.push(`${n.severity}: ${n.message}`));
      const runner = {
        async query<T>(sql: string): Promise<T[]> {
          notices.length = 0;
          const rows = (await loader.query(sql.replace(/ TO ROLE /g, " TO ").replace(/^GRANT ROLE /, "GRANT "))).rows as T[];
          const refused = notices.find((n) => /no privileges were granted|not all privileges were granted/.test(n));
          if (refused) throw new Error(`ERROR: permission denied: ${refused}`);
          return rows;
        },
      };
      const warnings: unknown[] = [];
      assert.ok(await ensureRedshiftReaderRole(runner, { log: { warn: (m, extra) => warnings.push({ m, extra }) } }), JSON.stringify(warnings));
      assert.equal(await readerGaps(runner), { role: READER_ROLE, roleExists: true, tablesWithoutSelect: [], fix: [] });
      await reader.connect();
      for (const table of readerTables()) await reader.query(`SELECT COUNT(*) FROM ${table}`);
      // A grant taken away is found, with the statement that gives it back.
      await loader.query(`REVOKE SELECT ON transactions FROM ${READER_ROLE}`);
      const gaps = await readerGaps(runner);
      assert.equal(gaps.tablesWithoutSelect, ["transactions"]);
      assert.match(describeReaderGaps(gaps)!, /coffeetl_reader may not SELECT transactions: .*GRANT SELECT ON TABLE transactions TO ROLE "coffeetl_reader"/);
    } finally {
      for (const c of [owner, loader, reader]) await c.end().catch(() => {});
      await admin.query(`DROP DATABASE IF EXISTS ${db.name} WITH (FORCE)`);
      await admin.query(`DROP ROLE IF EXISTS ${loaderName}`);
      await admin.query(`DROP ROLE IF EXISTS ${readerLogin}`);
      await admin.end();
    }
  });

  test("coffeetl status says when Grafana's reader lacks SELECT on a table, and stops saying it once granted", async () => {
    const admin = new pg.Client({ connectionString: adminUrl });
    await admin.connect();
    const db = await database(admin);
    const home = await tempDir();
    const status = () => runCoffeetlSync(["status", "--home", home.path, "--database-url", db.url]);
    try {
      const local = await openLocalPipeline({ home: home.path, databaseUrl: db.url });
      try {
        assert.ok((await local.ingest([fixture("canonical.csv")])).every((r) => r.ok));
      } finally {
        await local.close();
      }
      const ok = status();
      assert.is(ok.status, 0, ok.stderr);
      assert.not.match(ok.stdout, /reader role/);
      const owner = new pg.Client({ connectionString: db.url });
      await owner.connect();
      await owner.query(`REVOKE SELECT ON transaction_items FROM ${READER_ROLE}`);
      const gap = status();
      assert.is(gap.status, 0, gap.stderr);
      assert.match(
        gap.stdout,
        /Grafana's reader role coffeetl_reader may not SELECT transaction_items: .*GRANT SELECT ON TABLE transaction_items TO "coffeetl_reader"/,
      );
      await owner.query(`GRANT SELECT ON transaction_items TO ${READER_ROLE}`);
      await owner.end();
      assert.not.match(status().stdout, /reader role/);
    } finally {
      await admin.query(`DROP DATABASE IF EXISTS ${db.name} WITH (FORCE)`);
      await admin.end();
      await home.remove();
    }
  });

  test("PostgreSQL: a login in the reader role SELECTs every table after a load, and cannot INSERT, DELETE or DROP", async () => {
    const suffix = randomBytes(4).toString("hex");
    const database = `coffeetl_reader_${suffix}`;
    const login = `grafana_${suffix}`;
    const admin = new pg.Client({ connectionString: adminUrl });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${database}`);
    const url = new URL(adminUrl);
    url.pathname = `/${database}`;
    const home = await tempDir();
    let reader: pg.Client | undefined;
    try {
      const local = await openLocalPipeline({ home: home.path, databaseUrl: url.toString() });
      try {
        const reports = await local.ingest([fixture("canonical.csv"), fixture("legacy_crlf.csv")]);
        assert.ok(reports.every((r) => r.ok));
      } finally {
        await local.close();
      }
      await admin.query(`CREATE ROLE ${login} LOGIN IN ROLE ${READER_ROLE}`);
      const readerUrl = new URL(url.toString());
      readerUrl.username = login;
      reader = new pg.Client({ connectionString: readerUrl.toString() });
      await reader.connect();
      const { rows: who } = await reader.query<{ u: string }>("SELECT current_user AS u");
      assert.is(who[0]!.u, login);
      for (const table of readerTables()) {
        const { rows } = await reader.query<{ n: string }>(`SELECT COUNT(*) AS n FROM ${table}`);
        if (["branches", "products", "transactions", "transaction_items", "loads"].includes(table)) assert.ok(Number(rows[0]!.n) > 0, `${table} has rows`);
      }
      const denied = async (sql: string) => {
        try {
          await reader!.query(sql);
        } catch (error) {
          assert.match((error as Error).message, /permission denied|must be owner/, sql);
          return;
        }
        assert.unreachable(`the reader could run: ${sql}`);
      };
      await denied("INSERT INTO branches (branch_id, branch_name) VALUES ('x', 'Nowhere')");
      await denied("DELETE FROM transactions");
      await denied("UPDATE products SET product_name = 'x'");
      await denied("TRUNCATE loads");
      await denied("DROP TABLE transaction_items");
      await denied("CREATE TABLE reader_was_here (x INTEGER)");
      // A table the loader adds later is readable through the default privileges.
      const owner = new pg.Client({ connectionString: url.toString() });
      await owner.connect();
      await owner.query("CREATE TABLE later_table (x INTEGER)");
      await owner.query("INSERT INTO later_table VALUES (1)");
      await owner.end();
      const { rows: later } = await reader.query<{ x: number }>("SELECT x FROM later_table");
      assert.equal(later, [{ x: 1 }]);
      // Running the schema step again (a second loader) changes nothing and does not fail.
      const again = await openLocalPipeline({ home: home.path, databaseUrl: url.toString() });
      await again.ingest([fixture("canonical.csv")]);
      await again.close();
      const { rows } = await reader.query<{ n: string }>("SELECT COUNT(*) AS n FROM transactions");
      assert.ok(Number(rows[0]!.n) > 0);
    } finally {
      await reader?.end();
      await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
      await admin.query(`DROP ROLE IF EXISTS ${login}`);
      await admin.end();
      await home.remove();
    }
  });
}

test.run();
