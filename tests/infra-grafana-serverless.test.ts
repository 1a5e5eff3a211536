// Grafana on a Serverless warehouse this stack creates (coffeetl:warehouse serverless), under the
// mocks: the reader and writer roles are created as the namespace admin (the loader's IAMR user may
// not) by statements that may run again,
// and the Grafana role gets credentials only as its own IAMR user, mapped to that role by its tag.
// Run alone: node --import tsx tests/infra-grafana-serverless.test.ts
import { test } from "uvu";
import * as assert from "uvu/assert";
import { roleBootstrapStatements, WRITER_ROLE } from "../functions/warehouse/roles.js";
import { createRedshiftLikeDatabase } from "./fixtures/redshift-standin.js";
import { ACCOUNT, asList, runProgram, statementsOf } from "./infra/harness.js";

const h = await runProgram(
  { redshiftParameterName: "/coffeetl/newco-dev/redshift", grafanaAllowedCidrs: "192.0.2.0/24", warehouse: "serverless", warehouseDatabase: "sales" },
  "newco-dev",
);
const WORKGROUP_ARN = `arn:aws:redshift-serverless:eu-west-2:${ACCOUNT}:workgroup/0f0e0d0c-aaaa-bbbb-cccc-000000000001`;

test("the database roles are made as the namespace's admin by statements safe to run twice: a procedure that checks first, then its call", () => {
  const statements = h.byType("aws:redshiftdata/statement:Statement");
  const namespace = h.one("aws:redshiftserverless/namespace:Namespace", "warehouse-namespace");
  assert.equal(
    statements.map((s) => s.inputs.sql),
    roleBootstrapStatements(),
  );
  for (const s of statements) {
    assert.equal([s.inputs.workgroupName, s.inputs.database], ["coffeetl-newco-dev", "sales"]);
    assert.is(s.inputs.secretArn, namespace.props.adminPasswordSecretArn);
    // Re-run on refresh after 24 h, on replacement, by a second stack: never a bare CREATE.
    assert.match(s.inputs.sql, /^(CREATE OR REPLACE PROCEDURE |CALL )/, s.name);
  }
  assert.equal(h.one("aws:redshiftdata/statement:Statement", "warehouse-roles-call").dependsOn, ["warehouse-roles-procedure"]);
  assert.ok(h.one("aws:redshiftdata/statement:Statement", "warehouse-roles-call").inputs.statementName.startsWith("coffeetl-create-roles-"));
});

test("the load role maps to coffeetl_writer: a replaced role's new IAMR user keeps the loader's rights", () => {
  assert.is(h.one("aws:iam/role:Role", "load-role").inputs.tags.RedshiftDbRoles, WRITER_ROLE);
  // Redshift maps a sign-in to roles that exist: no load runs before the bootstrap.
  const mapping = h.one("aws:lambda/eventSourceMapping:EventSourceMapping", "load-queue-to-load-mapping");
  assert.ok(mapping.dependsOn.includes("warehouse-roles-call"), mapping.dependsOn.join(", "));
});

const adminUrl = process.env.COFFEETL_TEST_DATABASE_URL;
if (!adminUrl) {
  console.log("[skip] the stack's Data API statements on the PostgreSQL stand-in: COFFEETL_TEST_DATABASE_URL is not set");
} else {
  test("every Data API statement resource of the stack, run twice in order on the Redshift-like stand-in, succeeds", async () => {
    const db = await createRedshiftLikeDatabase(adminUrl);
    try {
      for (let run = 1; run <= 2; run++) for (const s of h.byType("aws:redshiftdata/statement:Statement")) await db.query(s.inputs.sql);
      const roles = await db.query<{ role_name: string }>(
        `SELECT role_name FROM svv_roles WHERE role_name IN ('coffeetl_reader', 'coffeetl_writer') ORDER BY 1`,
      );
      assert.equal(
        roles.map((r) => r.role_name),
        ["coffeetl_reader", "coffeetl_writer"],
      );
    } finally {
      await db.drop();
    }
  });
}

test("Grafana: its own IAMR user on that workgroup only, mapped to the reader role; no cluster user, no secret", () => {
  const s = statementsOf(h.one("aws:iam/rolePolicy:RolePolicy", "grafana-policy").inputs.policy).filter((x) => x.Effect === "Allow");
  const allowed = (action: string) => s.filter((x) => asList(x.Action).includes(action));
  assert.equal(
    allowed("redshift-serverless:GetCredentials").map((x) => x.Resource),
    [WORKGROUP_ARN],
  );
  assert.equal(
    allowed("redshift-data:ExecuteStatement").map((x) => x.Resource),
    [[WORKGROUP_ARN]],
  );
  for (const action of [
    "redshift:GetClusterCredentials",
    "redshift:GetClusterCredentialsWithIAM",
    "secretsmanager:GetSecretValue",
    "redshift-data:BatchExecuteStatement",
  ])
    assert.is(allowed(action).length, 0, action);
  assert.is(h.one("aws:iam/role:Role", "grafana-role").inputs.tags.RedshiftDbRoles, "coffeetl_reader");
});

test.run();
