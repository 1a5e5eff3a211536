// infra/warehouse-access.ts alone: the Data API permissions of the load function and the Grafana host,
// narrowed to the warehouse that is known (workgroup, cluster + user + database, secret); refused when
// no warehouse is named, so no role ever gets "any cluster".
import * as pulumi from "@pulumi/pulumi";
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { PolicyStatement } from "../infra/iam.js";
import { warehouseAccessStatements } from "../infra/warehouse-access.js";
import { settle } from "./infra/harness.js";

const ctx = {
  partition: pulumi.output("aws"),
  region: pulumi.output("eu-west-2"),
  accountId: pulumi.output("123456789012"),
  dnsSuffix: pulumi.output("amazonaws.com"),
};
const WG = "arn:aws:redshift-serverless:eu-west-2:123456789012:workgroup/0f0e";

/** The statements with every input resolved, by Sid. */
async function resolved(statements: PolicyStatement[]): Promise<Record<string, Record<string, unknown>>> {
  const out: Record<string, Record<string, unknown>> = {};
  for (const s of statements) out[s.Sid!] = JSON.parse((await settle(pulumi.jsonStringify(pulumi.output(s))))!);
  return out;
}

test("no workgroup and no cluster: refused", () => {
  assert.throws(() => warehouseAccessStatements(ctx, { managed: false, scope: {} }, "load"), /warehouse access needs a workgroup or a cluster identifier/);
});

test("a Serverless workgroup: the load runs batches on it and gets its credentials; reads only its own statements", async () => {
  const s = await resolved(warehouseAccessStatements(ctx, { workgroupArn: WG, managed: true, scope: {} }, "load"));
  assert.equal(Object.keys(s), ["RunStatementsOnTheWarehouse", "ReadOwnStatements", "ServerlessTemporaryCredentials"]);
  assert.equal(s.RunStatementsOnTheWarehouse!.Action, ["redshift-data:BatchExecuteStatement", "redshift-data:ExecuteStatement"]);
  assert.equal(s.RunStatementsOnTheWarehouse!.Resource, [WG]);
  assert.equal(s.ReadOwnStatements!.Condition, { StringEquals: { "redshift-data:statement-owner-iam-userid": "${aws:userid}" } });
  assert.equal(s.ServerlessTemporaryCredentials!.Resource, WG);
});

test("Grafana reads and browses, never runs a batch", async () => {
  const s = await resolved(warehouseAccessStatements(ctx, { workgroupArn: WG, managed: true, scope: {} }, "grafana"));
  const actions = s.RunStatementsOnTheWarehouse!.Action as string[];
  assert.not.ok(actions.includes("redshift-data:BatchExecuteStatement"));
  assert.ok(actions.includes("redshift-data:ExecuteStatement") && actions.includes("redshift-data:ListTables"));
});

test("a cluster: that cluster, that user on that database, and a secret only when one is named", async () => {
  const s = await resolved(
    warehouseAccessStatements(ctx, { managed: false, scope: { clusterIdentifier: "acme-dw", dbUser: "coffeetl", database: "dev" } }, "load"),
  );
  assert.equal(s.RunStatementsOnTheWarehouse!.Resource, ["arn:aws:redshift:eu-west-2:123456789012:cluster:acme-dw"]);
  assert.equal(s.ClusterTemporaryCredentials!.Resource, [
    "arn:aws:redshift:eu-west-2:123456789012:dbuser:acme-dw/coffeetl",
    "arn:aws:redshift:eu-west-2:123456789012:dbname:acme-dw/dev",
  ]);
  assert.is(s.ServerlessTemporaryCredentials, undefined);
  assert.is(s.ReadWarehouseSecret, undefined);
  const secret = "arn:aws:secretsmanager:eu-west-2:123456789012:secret:acme-dw-AbCdEf";
  const withSecret = await resolved(warehouseAccessStatements(ctx, { managed: false, scope: { clusterIdentifier: "acme-dw", secretArn: secret } }, "load"));
  assert.equal(withSecret.ReadWarehouseSecret, { Sid: "ReadWarehouseSecret", Effect: "Allow", Action: "secretsmanager:GetSecretValue", Resource: secret });
  assert.is(withSecret.ClusterTemporaryCredentials, undefined, "no user named: no temporary credentials");
});

test("nothing but ReadOwnStatements has a wildcard resource", async () => {
  for (const target of [
    { workgroupArn: WG, managed: true, scope: {} },
    { managed: false, scope: { clusterIdentifier: "c", dbUser: "u", database: "d", secretArn: "arn:s" } },
  ]) {
    const s = await resolved(warehouseAccessStatements(ctx, target, "load"));
    for (const [sid, st] of Object.entries(s)) if (sid !== "ReadOwnStatements") assert.not.match(JSON.stringify(st.Resource), /"\*"|:\*"/, sid);
  }
});

test.run();
