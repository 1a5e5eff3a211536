// The Redshift Data API warehouse: batch contents, COPY literals, polling, retries, results.
import { Readable } from "node:stream";
import { BatchExecuteStatementCommand, CancelStatementCommand, DescribeStatementCommand, RedshiftDataClient } from "@aws-sdk/client-redshift-data";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { KeyMismatchError, RetryLaterError, type LoadRequest, type Storage } from "../functions/app/ports.js";
import { copyStatement, redshiftString, roleArnLiteral, s3UriLiteral } from "../functions/aws/redshift-sql.js";
import {
  LOAD_STATEMENT_BUDGET,
  MAX_BATCH_STATEMENTS,
  RedshiftStatementError,
  RedshiftWarehouse,
  type RedshiftWarehouseOptions,
} from "../functions/aws/redshift-warehouse.js";
import type { WarehouseSettings } from "../functions/aws/ssm.js";
import { OUTPUT_FILES, type Manifest } from "../functions/core/manifest.js";
import { COLUMNS, LOAD_LOCK_TABLE, REDSHIFT_CREATE_TABLES, TABLES } from "../functions/core/schema.js";
import { FakeRedshift } from "./fixtures/aws/fake-redshift.js";
import { RedshiftEngine } from "./fixtures/aws/redshift-engine.js";

process.env.AWS_REGION = "eu-west-1";
const ROLE = "arn:aws:iam::123456789012:role/coffeetl-redshift-copy";
const serverless: WarehouseSettings = { target: { kind: "serverless", workgroupName: "coffeetl-wg", database: "coffee" }, copyRoleArn: ROLE };
const client = new RedshiftDataClient({});
let fake = new FakeRedshift();
let sleeps: number[] = [];
const warehouse = (options: RedshiftWarehouseOptions = {}, connection = serverless) =>
  new RedshiftWarehouse(client, connection, { sleep: async (ms) => void sleeps.push(ms), ...options });

test.before.each(() => {
  fake.mock.restore();
  fake = new FakeRedshift();
  sleeps = [];
});

const PREFIX = "uploads/it's odd\\dir/file/0123456789abcdef";
function request(loadId = "a".repeat(64)): LoadRequest {
  const manifest: Manifest = {
    source: { bucket: "raw", key: "uploads/file.csv", versionId: null, size: 10, sha256: "b".repeat(64) },
    rowsRead: 10,
    rows: { branches: 1, products: 3, transactions: 9, transaction_items: 14 },
    rejected: 1,
    warnings: 2,
    files: { ...OUTPUT_FILES, rejects: "rejects.csv" },
    keyFingerprint: "0123456789abcdef",
    transformVersion: "1.0.0",
    transformedAt: "2024-05-01T10:00:00.000Z",
  };
  return {
    loadId,
    prefix: PREFIX,
    manifest,
    files: TABLES.map((table) => ({ table, uri: `s3://coffeetl-transformed/${PREFIX}/${table}.csv`, open: async () => Readable.from([]) })),
    keyFingerprint: "0123456789abcdef",
  };
}

test("Redshift literals double quotes and backslashes, and refuse control characters", () => {
  assert.is(redshiftString("it's \\odd", "x"), "'it''s \\\\odd'");
  assert.throws(() => redshiftString("a\nb", "key"), /key contains a control character/);
  assert.is(s3UriLiteral("s3://my-bucket/a b/c+d/é.csv"), "'s3://my-bucket/a b/c+d/é.csv'");
  assert.throws(() => s3UriLiteral("https://my-bucket/x"), /not an s3:\/\/bucket\/key URI/);
  assert.throws(() => s3UriLiteral("s3://UPPER/x"), /not an s3/);
  assert.is(roleArnLiteral(ROLE), `'${ROLE}'`);
  assert.throws(() => roleArnLiteral("arn:aws:iam::123456789012:role/x' CREDENTIALS 'y"), /not an IAM role ARN/);
});

test("COPY statement: staging table, explicit columns, role, CSV with header, NULLs, time format", () => {
  assert.is(
    copyStatement("products", "s3://bucket/p/products.csv", ROLE),
    `COPY stage_products (product_id, product_name, size, flavour) FROM 's3://bucket/p/products.csv' IAM_ROLE '${ROLE}' ` +
      `FORMAT AS CSV IGNOREHEADER 1 EMPTYASNULL TIMEFORMAT 'YYYY-MM-DD HH:MI:SS' COMPUPDATE OFF STATUPDATE OFF`,
  );
});

test("schema step on a warehouse of an earlier release adds the new loads columns once; a current one gets none", async () => {
  // Created by an earlier release: `loads` without source_version / superseded_by.
  for (const c of [
    "load_id",
    "source_key",
    "source_sha256",
    "loaded_at",
    "rows_read",
    "transactions_new",
    "transactions_duplicate",
    "rows_rejected",
    "warnings",
  ])
    fake.columns.add(`loads.${c}`);
  await warehouse().ensureSchema();
  const alters = () =>
    fake
      .batchInputs()
      .flatMap((b) => b.Sqls ?? [])
      .filter((s) => s.startsWith("ALTER TABLE"));
  assert.equal(alters(), [
    "ALTER TABLE loads ADD COLUMN source_version VARCHAR(1024)",
    "ALTER TABLE loads ADD COLUMN superseded_by VARCHAR(64)",
    "ALTER TABLE loads ADD COLUMN source_order VARCHAR(64)",
  ]);
  await warehouse().ensureSchema();
  assert.is(alters().length, 3, "the second schema step finds the columns and adds nothing");
});

test("load: one batch = LOCK first, staging, COPY of every table file, merge, per-file result; addressed to the connection", async () => {
  const [result] = await warehouse().loadBatch([request()]);
  const batches = fake.batchInputs();
  assert.is(batches.length, 1);
  const b = batches[0]!;
  assert.is(b.WorkgroupName, "coffeetl-wg");
  assert.is(b.Database, "coffee");
  assert.is(b.ClusterIdentifier, undefined);
  assert.ok(b.ClientToken, "idempotency token");
  assert.is(b.StatementName, `coffeetl-load-${"a".repeat(16)}`);
  const sqls = b.Sqls!;
  // The lock comes before any read: under SNAPSHOT isolation the snapshot starts at the first query.
  assert.is(sqls[0], `LOCK ${LOAD_LOCK_TABLE}`, "the loaders' lock table only: never a data table");
  const kinds = sqls.map((s) => /^(CREATE TEMP TABLE \w+|COPY \w+|INSERT INTO \w+|DELETE FROM \w+|UPDATE \w+|SELECT|LOCK)/.exec(s)?.[1] ?? s.slice(0, 20));
  assert.equal(kinds.slice(0, 10), [
    "LOCK",
    ...TABLES.map((t) => `CREATE TEMP TABLE stage_${t}`),
    "CREATE TEMP TABLE stage_files",
    ...TABLES.map((t) => `COPY stage_${t}`),
  ]);
  for (const table of ["transactions", "transaction_items", "branches", "products", "loads", "load_sales", "file_outcomes", "warehouse_identity"]) {
    assert.ok(kinds.includes(`INSERT INTO ${table}`), `inserts into ${table}`);
  }
  assert.is(kinds.at(-1), "SELECT");
  assert.ok(sqls.length <= MAX_BATCH_STATEMENTS, `${sqls.length} statements`);
  for (const table of TABLES) {
    const copy = sqls.find((s) => s.startsWith(`COPY stage_${table} `))!;
    assert.ok(copy.includes(`FROM 's3://coffeetl-transformed/uploads/it''s odd\\\\dir/file/0123456789abcdef/${table}.csv'`), copy);
    assert.ok(copy.includes(`IAM_ROLE '${ROLE}'`));
    assert.not.ok(copy.includes("MANIFEST"));
  }
  assert.equal(result, {
    loadId: "a".repeat(64),
    loaded: true,
    outcome: "loaded",
    rowsRead: 10,
    transactionsNew: 9,
    transactionsDuplicate: 0,
    rowsRejected: 1,
    warnings: 2,
  });
  assert.ok(sleeps.length >= 2, "polled with sleeps");
});

test("loadBatch: several manifests, one transaction, one COPY per table over a COPY manifest in the transformed bucket", async () => {
  const written = new Map<string, string>();
  const store = {
    name: "coffeetl-transformed",
    uri: (key: string) => `s3://coffeetl-transformed/${key}`,
    put: async (key: string, body: unknown) => void written.set(key, String(body)),
  } as unknown as Storage;
  const requests = [1, 2, 3].map((n) => {
    const r = request(String(n).repeat(64));
    const prefix = `uploads/branch-${n}/0123456789abcdef`;
    return {
      ...r,
      prefix,
      manifest: { ...r.manifest, source: { ...r.manifest.source, key: `uploads/branch-${n}.csv` } },
      files: TABLES.map((table) => ({ table, uri: `s3://coffeetl-transformed/${prefix}/${table}.csv`, open: async () => Readable.from([]) })),
    };
  });
  const results = await warehouse({ copyManifests: store }).loadBatch(requests);
  assert.equal(
    results.map((r) => [r.loadId[0], r.outcome]),
    [
      ["1", "loaded"],
      ["2", "loaded"],
      ["3", "loaded"],
    ],
  );
  const batches = fake.loadBatches();
  assert.is(batches.length, 1, "one transaction");
  const copies = batches[0]!.Sqls!.filter((s) => s.startsWith("COPY "));
  assert.is(copies.length, TABLES.length, "one COPY per table");
  for (const table of TABLES) {
    const key = [...written.keys()].find((k) => k.endsWith(`/${table}.copy.json`))!;
    assert.ok(key.startsWith("_load-batches/"), key);
    assert.not.ok(key.endsWith("manifest.json"), "never triggers the load itself");
    assert.equal(JSON.parse(written.get(key)!), {
      entries: [1, 2, 3].map((n) => ({ url: `s3://coffeetl-transformed/uploads/branch-${n}/0123456789abcdef/${table}.csv`, mandatory: true })),
    });
    const copy = copies.find((c) => c.startsWith(`COPY stage_${table} `))!;
    assert.ok(copy.includes(`FROM 's3://coffeetl-transformed/${key}' IAM_ROLE '${ROLE}' MANIFEST FORMAT AS CSV IGNOREHEADER 1`), copy);
  }
  // Loaded again: each manifest is reported as already loaded.
  const again = await warehouse({ copyManifests: store }).loadBatch(requests);
  assert.equal(
    again.map((r) => [r.outcome, r.transactionsNew, r.transactionsDuplicate]),
    [1, 2, 3].map(() => ["already_loaded", 0, 9]),
  );
  // Two manifests of one raw key never share a batch (their order decides which is current).
  await warehouse({ copyManifests: store })
    .loadBatch([requests[0]!, { ...requests[1]!, manifest: requests[0]!.manifest }])
    .then(
      () => assert.unreachable(),
      (e: Error) => assert.match(e.message, /two manifests of uploads\/branch-1\.csv/),
    );
});

/** A Redshift stand-in that runs the SQL (keys not enforced), over table files held in memory. */
async function engineOver(objects: Map<string, string>): Promise<RedshiftEngine> {
  const engine = await RedshiftEngine.create((uri) => (objects.has(uri) ? Buffer.from(objects.get(uri)!) : undefined));
  fake.engine = engine;
  return engine;
}
const memoryStore = (objects: Map<string, string>) =>
  ({
    name: "coffeetl-transformed",
    uri: (key: string) => `s3://coffeetl-transformed/${key}`,
    put: async (key: string, body: unknown) => void objects.set(`s3://coffeetl-transformed/${key}`, String(body)),
  }) as unknown as Storage;

/**
 * `n` files of one branch-day each: file i holds a sale of its own and one sale every file holds
 * (the same till line uploaded under several names), with their branch, product and items.
 */
function branchFiles(n: number, objects: Map<string, string>): LoadRequest[] {
  const csv = (table: (typeof TABLES)[number], rows: string[]) => [COLUMNS[table].join(","), ...rows].join("\n") + "\n";
  return Array.from({ length: n }, (_, i) => {
    const key = `uploads/branch-${i}.csv`;
    const prefix = `uploads/branch-${i}/0123456789abcdef`;
    const own = (i + 1).toString(16).padStart(32, "0");
    const shared = "f".repeat(32);
    const tables = {
      branches: csv("branches", ["b1,Leeds"]),
      products: csv("products", ["p1,Latte,Large,"]),
      transactions: csv("transactions", [`${own},b1,2024-05-01 10:00:00,CASH,2.50,${key}`, `${shared},b1,2024-05-01 09:00:00,CARD,2.50,${key}`]),
      transaction_items: csv("transaction_items", [`${own},p1,2.50,1`, `${shared},p1,2.50,1`]),
    };
    for (const t of TABLES) objects.set(`s3://coffeetl-transformed/${prefix}/${t}.csv`, tables[t]);
    const r = request((i + 1).toString(16).padStart(64, "0"));
    return {
      ...r,
      prefix,
      manifest: { ...r.manifest, rowsRead: 2, rejected: 0, warnings: 0, source: { ...r.manifest.source, key } },
      files: TABLES.map((table) => ({ table, uri: `s3://coffeetl-transformed/${prefix}/${table}.csv`, open: async () => Readable.from([]) })),
    };
  });
}

test("a batch refused by the key check becomes a KeyMismatchError naming both fingerprints, not retried", async () => {
  const objects = new Map<string, string>();
  const engine = await engineOver(objects);
  await engine.transaction([
    "INSERT INTO warehouse_identity (key_fingerprint, created_at) VALUES ('fedcba9876543210', CAST('2024-05-01 09:00:00' AS TIMESTAMP))",
  ]);
  const error = await warehouse()
    .loadBatch([branchFiles(1, objects)[0]!])
    .then(
      () => undefined,
      (e: Error) => e,
    );
  assert.instance(error, KeyMismatchError);
  assert.match(error!.message, /fingerprint fedcba9876543210, but this load's were keyed with 0123456789abcdef/);
  assert.is(fake.loadBatches().length, 1);
  await engine.close();
});

test("the key check refuses through the result rows, not an error text: the batch finishes, writes nothing, and its rows carry the refusal", async () => {
  const objects = new Map<string, string>();
  const engine = await engineOver(objects);
  await engine.transaction([
    "INSERT INTO warehouse_identity (key_fingerprint, created_at) VALUES ('fedcba9876543210', CAST('2024-05-01 09:00:00' AS TIMESTAMP))",
  ]);
  const error = await warehouse({ copyManifests: memoryStore(objects) })
    .loadBatch(branchFiles(3, objects))
    .then(
      () => undefined,
      (e: Error) => e,
    );
  assert.instance(error, KeyMismatchError);
  assert.is((error as KeyMismatchError).warehouseFingerprint, "fedcba9876543210");
  // The batch itself finished: no statement failed, so no error text was there to match.
  const [batch] = [...fake.statements.entries()].filter(([, s]) => s.sqls.some((q) => q.startsWith("COPY stage_")));
  assert.is(batch![1].final.Status, "FINISHED");
  const result = fake.statements.get(`${batch![0]}:${batch![1].sqls.length}`)!.rows!;
  assert.equal(
    result.map((r) => [r.outcome, r.held_key]),
    [0, 1, 2].map(() => ["other_key", "fedcba9876543210"]),
  );
  const counts = await engine.transaction(
    ["transactions", "transaction_items", "branches", "products", "loads", "load_sales", "file_outcomes", "warehouse_identity"].map(
      (t) => `SELECT '${t}' AS t, COUNT(*) AS n FROM ${t}`,
    ),
  );
  assert.equal(
    counts.map((rows) => `${rows![0]!.t}=${rows![0]!.n}`),
    ["transactions=0", "transaction_items=0", "branches=0", "products=0", "loads=0", "load_sales=0", "file_outcomes=0", "warehouse_identity=1"],
  );
  await engine.close();
});

for (const files of [5, 50]) {
  test(`a ${files}-file batch sends at most ${LOAD_STATEMENT_BUDGET} statements (the load's budget of the Data API's 40), and its SQL runs`, async () => {
    const objects = new Map<string, string>();
    const engine = await engineOver(objects);
    const results = await warehouse({ copyManifests: memoryStore(objects) }).loadBatch(branchFiles(files, objects));
    const [batch] = fake.loadBatches();
    assert.ok(batch!.Sqls!.length <= 32, `${batch!.Sqls!.length} statements`);
    assert.ok(batch!.Sqls!.length <= LOAD_STATEMENT_BUDGET && LOAD_STATEMENT_BUDGET <= 32);
    // The shared sale is new for the first file only; every file's own sale is new.
    assert.equal(
      results.map((r) => [r.outcome, r.transactionsNew, r.transactionsDuplicate]),
      results.map((_, i) => ["loaded", i === 0 ? 2 : 1, i === 0 ? 0 : 1]),
    );
    const [[sales], [listings]] = (await engine.transaction(["SELECT COUNT(*) AS n FROM transactions", "SELECT COUNT(*) AS n FROM load_sales"])) as [
      Record<string, unknown>[],
      Record<string, unknown>[],
    ];
    assert.equal([sales!.n, listings!.n], [files + 1, files - 1]);
    await engine.close();
  });
}

test("provisioned targets send ClusterIdentifier with DbUser or SecretArn", async () => {
  const secretArn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:coffeetl-AbCdEf";
  await warehouse({}, { target: { kind: "provisioned", clusterIdentifier: "mycluster", database: "dev", dbUser: "etl" }, copyRoleArn: ROLE }).ensureSchema();
  await warehouse({}, { target: { kind: "provisioned", clusterIdentifier: "mycluster", database: "dev", secretArn }, copyRoleArn: ROLE }).ensureSchema();
  const [a, b] = fake.batchInputs();
  assert.equal([a!.ClusterIdentifier, a!.Database, a!.DbUser, a!.SecretArn, a!.WorkgroupName], ["mycluster", "dev", "etl", undefined, undefined]);
  assert.equal([b!.ClusterIdentifier, b!.Database, b!.DbUser, b!.SecretArn], ["mycluster", "dev", undefined, secretArn]);
  assert.equal(a!.Sqls, [...REDSHIFT_CREATE_TABLES]);
  assert.ok(a!.Sqls!.some((q) => q.startsWith("CREATE TABLE IF NOT EXISTS transactions") && q.endsWith("DISTKEY (transaction_id) SORTKEY (transaction_time)")));
});

test("polling backs off ×1.5 from 250 ms up to 1 s by default (a lone file's load is seen within a second of ending)", async () => {
  fake.runningPolls = 12;
  await warehouse().ensureSchema();
  assert.equal(sleeps.slice(0, 6), [250, 375, 563, 845, 1000, 1000]);
  // The first statement's 12 polls (the schema step then sets up the reader role: more statements, each starting at 250 ms).
  assert.ok(sleeps.slice(6, 12).every((s) => s === 1000));
});

test("the polling cap is configurable (pollMaxMs, the load's LOAD_POLL_MAX_MS)", async () => {
  fake.runningPolls = 12;
  await warehouse({ pollMaxMs: 5_000 }).ensureSchema();
  assert.equal(sleeps.slice(0, 9), [250, 375, 563, 845, 1268, 1902, 2853, 4280, 5000]);
  assert.ok(sleeps.slice(9, 12).every((s) => s === 5000));
});

test("a FAILED batch throws with Redshift's error text", async () => {
  const text = "Load into table 'stage_transactions' failed.  Check 'stl_load_errors' system table for details.";
  fake.plannedBatches.push({ Status: "FAILED", Error: text });
  const error = await warehouse()
    .loadBatch([request()])
    .then(
      () => undefined,
      (e: Error) => e,
    );
  assert.instance(error, RedshiftStatementError);
  assert.ok(error!.message.includes(text), error!.message);
  // The first COPY: after the lock, four staging tables and the file list.
  assert.match(error!.message, /FAILED \(sub-statement stmt-\d+:7\)/);
  assert.is(fake.batchInputs().length, 1, "not retried");
  assert.is(fake.loads.size, 0);
});

test("serialization conflicts and throttling retry the whole batch", async () => {
  const warnings: unknown[] = [];
  fake.plannedBatches.push(
    { Status: "FAILED", Error: "ERROR: 1023 DETAIL: Serializable isolation violation on table - 123, transactions - 456 (pid:789)" },
    "throttle",
  );
  const [result] = await warehouse({ log: { info() {}, warn: (m, x) => warnings.push([m, x]), error() {} } }).loadBatch([request()]);
  assert.is(result!.loaded, true);
  assert.is(fake.loadBatches().length, 3);
  assert.is(warnings.length, 2);
});

test("retries are bounded", async () => {
  const conflict = { Status: "FAILED" as const, Error: "ERROR: 1023 DETAIL: Serializable isolation violation on table" };
  fake.plannedBatches.push(conflict, conflict, conflict, conflict, conflict);
  await warehouse({ maxAttempts: 3 })
    .loadBatch([request()])
    .then(
      () => assert.unreachable(),
      (e: Error) => assert.match(e.message, /Serializable isolation violation/),
    );
  assert.is(fake.batchInputs().length, 3);
});

test("polling stops before the invocation times out: the statement is cancelled and the error says so", async () => {
  fake.runningPolls = Infinity;
  let clock = 60_000;
  const w = warehouse({ remainingTimeMs: () => clock, sleep: async (ms) => void (clock -= ms) });
  const error = await w.loadBatch([request()]).then(
    () => undefined,
    (e: Error) => e,
  );
  assert.ok(error);
  assert.match(error!.message, /still running with \d+ s of the invocation left; cancelled/);
  assert.instance(error, RetryLaterError, "a passing cause: the caller returns the batch whole");
  assert.is(fake.cancelled.length, 1);
  assert.ok(clock >= 10_000 - 5_000, "stopped within the safety margin");
  assert.ok(fake.mock.commandCalls(DescribeStatementCommand).length > 5);
  assert.is(fake.mock.commandCalls(CancelStatementCommand).length, 1);
});

test("a second load of the same id reports loaded: false, with the counts of the loads row the first one wrote", async () => {
  const w = warehouse();
  const [first] = await w.loadBatch([request("c".repeat(64))]);
  assert.is(first!.loaded, true);
  const [again] = await w.loadBatch([request("c".repeat(64))]);
  assert.equal(again, {
    loadId: "c".repeat(64),
    loaded: false,
    outcome: "already_loaded",
    rowsRead: 10,
    transactionsNew: 0,
    transactionsDuplicate: 9,
    rowsRejected: 1,
    warnings: 2,
  });
  assert.equal([again!.loaded, again!.outcome], [false, "already_loaded"], "the loads row was written by an earlier load");
});

test("query: pages of GetStatementResult become plain objects keyed by column name", async () => {
  fake.pageSize = 2;
  fake.answer = (sql) =>
    sql.startsWith("SELECT branch_name")
      ? [
          { branch_name: "Leeds", n: 3, avg: 2.5, flag: true, note: null },
          { branch_name: "York", n: 1, avg: 1.25, flag: false, note: "x" },
          { branch_name: "Hull", n: 0, avg: 0.5, flag: false, note: null },
        ]
      : undefined;
  const rows = await warehouse().query("SELECT branch_name, n, avg, flag, note FROM x");
  assert.equal(rows, [
    { branch_name: "Leeds", n: 3, avg: 2.5, flag: true, note: null },
    { branch_name: "York", n: 1, avg: 1.25, flag: false, note: "x" },
    { branch_name: "Hull", n: 0, avg: 0.5, flag: false, note: null },
  ]);
  assert.equal(await warehouse().query("DELETE FROM nothing"), [], "no result set");
});

test("ensureSchema retries a concurrent CREATE TABLE race", async () => {
  fake.plannedBatches.push({ Status: "FAILED", Error: 'ERROR: duplicate key value violates unique constraint "pg_type_typname_nsp_index"' });
  await warehouse().ensureSchema();
  assert.is(fake.mock.commandCalls(BatchExecuteStatementCommand).length, 2);
});

test.run();
