// infra/warehouse-roles.ts alone under mocks: the roles of a Serverless warehouse the stack creates,
// made as the namespace's admin by a procedure and its call; a new procedure body renames the call, so
// it runs again, and the call waits for the procedure.
import * as aws from "@pulumi/aws";
import { createHash } from "node:crypto";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { roleBootstrapStatements } from "../functions/warehouse/roles.js";
import { createWarehouseRoles } from "../infra/warehouse-roles.js";
import { declare } from "./infra/component.js";

const SECRET = "arn:aws:secretsmanager:eu-west-2:123456789012:secret:redshift!coffeetl-admin-AbCdEf";
const d = await declare(() => {
  const parent = new aws.sns.Topic("parent", {});
  createWarehouseRoles("roles", { workgroupName: "coffeetl-acme", database: "dev", adminSecretArn: SECRET }, { parent });
});
const [procedure, call] = roleBootstrapStatements() as [string, string];

test("the procedure, then its call, both on the workgroup as the admin", () => {
  const define = d.one("aws:redshiftdata/statement:Statement", "roles-procedure");
  const run = d.one("aws:redshiftdata/statement:Statement", "roles-call");
  for (const s of [define, run]) assert.equal([s.inputs.workgroupName, s.inputs.database, s.inputs.secretArn], ["coffeetl-acme", "dev", SECRET]);
  assert.is(define.inputs.sql, procedure);
  assert.is(run.inputs.sql, call);
  assert.equal(run.dependsOn, ["roles-procedure"]);
  assert.is(define.parent, "aws:sns/topic:Topic::parent");
  assert.is(run.parent, "aws:sns/topic:Topic::parent");
});

test("the call's name carries the procedure's hash: a changed procedure runs again", () => {
  const run = d.one("aws:redshiftdata/statement:Statement", "roles-call");
  assert.is(run.inputs.statementName, `coffeetl-create-roles-${createHash("sha256").update(procedure).digest("hex").slice(0, 12)}`);
  assert.is(d.one("aws:redshiftdata/statement:Statement", "roles-procedure").inputs.statementName, "coffeetl-define-role-bootstrap");
});

test.run();
