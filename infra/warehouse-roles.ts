// The database roles of a Serverless warehouse this stack creates (functions/warehouse/roles.ts),
// made once as the namespace's admin through the Data API. Each statement is safe to run again: a
// `aws.redshiftdata.Statement` is replaced (and so re-run) on refresh once its result has expired
// after 24 hours (terraform-provider-aws #26343; pulumi-aws #2055), on any change, and by a second
// stack on the same warehouse, so it never holds a bare CREATE ROLE.
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { createHash } from "node:crypto";
import { roleBootstrapStatements } from "../functions/warehouse/roles.js";

export interface WarehouseRolesArgs {
  workgroupName: pulumi.Input<string>;
  database: string;
  /** The namespace's admin secret (manageAdminPassword): only the admin may create roles. */
  adminSecretArn: pulumi.Input<string>;
}

/** The procedure, then its call; a new procedure body gives the call a new name, so it runs again. */
export function createWarehouseRoles(name: string, args: WarehouseRolesArgs, opts?: pulumi.CustomResourceOptions): aws.redshiftdata.Statement[] {
  const [procedure, call] = roleBootstrapStatements() as [string, string];
  const target = { workgroupName: args.workgroupName, database: args.database, secretArn: args.adminSecretArn };
  const define = new aws.redshiftdata.Statement(`${name}-procedure`, { ...target, sql: procedure, statementName: "coffeetl-define-role-bootstrap" }, opts);
  const version = createHash("sha256").update(procedure).digest("hex").slice(0, 12);
  const run = new aws.redshiftdata.Statement(
    `${name}-call`,
    { ...target, sql: call, statementName: `coffeetl-create-roles-${version}` },
    { ...opts, dependsOn: [define] },
  );
  return [define, run];
}
