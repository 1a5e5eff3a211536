// Grafana on a Serverless warehouse this stack creates (coffeetl:warehouse serverless), under the
// mocks: the reader role is created once as the namespace admin (the loader's IAMR user may not),
// and the Grafana role gets credentials only as its own IAMR user, mapped to that role by its tag.
// Run alone: node --import tsx tests/infra-grafana-serverless.test.ts
import { test } from "uvu";
import * as assert from "uvu/assert";
import { ACCOUNT, asList, runProgram, statementsOf } from "./infra/harness.js";

const h = await runProgram({ redshiftParameterName: "/coffeetl/newco-dev/redshift", grafanaAllowedCidrs: "192.0.2.0/24", warehouse: "serverless", warehouseDatabase: "sales" }, "newco-dev");
const WORKGROUP_ARN = `arn:aws:redshift-serverless:eu-west-2:${ACCOUNT}:workgroup/0f0e0d0c-aaaa-bbbb-cccc-000000000001`;

test("the reader role is created once, as the namespace's admin, in the stack's workgroup", () => {
  const statement = h.one("aws:redshiftdata/statement:Statement", "grafana-reader-role");
  const namespace = h.one("aws:redshiftserverless/namespace:Namespace", "warehouse-namespace");
  assert.equal([statement.inputs.sql, statement.inputs.workgroupName, statement.inputs.database], ["CREATE ROLE coffeetl_reader", "coffeetl-newco-dev", "sales"]);
  assert.is(statement.inputs.secretArn, namespace.props.adminPasswordSecretArn);
  assert.match(statement.inputs.secretArn, /^arn:aws:secretsmanager:/);
});

test("Grafana: its own IAMR user on that workgroup only, mapped to the reader role; no cluster user, no secret", () => {
  const s = statementsOf(h.one("aws:iam/rolePolicy:RolePolicy", "grafana-policy").inputs.policy).filter((x) => x.Effect === "Allow");
  const allowed = (action: string) => s.filter((x) => asList(x.Action).includes(action));
  assert.equal(allowed("redshift-serverless:GetCredentials").map((x) => x.Resource), [WORKGROUP_ARN]);
  assert.equal(allowed("redshift-data:ExecuteStatement").map((x) => x.Resource), [[WORKGROUP_ARN]]);
  for (const action of ["redshift:GetClusterCredentials", "redshift:GetClusterCredentialsWithIAM", "secretsmanager:GetSecretValue", "redshift-data:BatchExecuteStatement"]) assert.is(allowed(action).length, 0, action);
  assert.is(h.one("aws:iam/role:Role", "grafana-role").inputs.tags.RedshiftDbRoles, "coffeetl_reader");
});

test.run();
