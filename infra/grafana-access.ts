// What the Grafana host may do on the warehouse: read through the Data API as the read-only reader
// identity (functions/warehouse/reader-role.ts), never as the loader.
//   - Serverless: GetCredentials on the workgroup gives the instance role's own `IAMR:<role>` user,
//     which the role's `RedshiftDbRoles` tag maps to the reader role (see grafana.ts).
//   - Provisioned: GetClusterCredentials for the reader's database user only, on the named cluster
//     (or, when the config names none, that user on any cluster of the account; never `dbuser:*`).
//   - Never a Secrets Manager secret (the loader's `secretArn` is the loader's password), never
//     GetClusterCredentialsWithIAM (that would sign in as an IAM-named user outside the reader group).
import type { AwsContext, PolicyStatement } from "./iam.js";
import { arn } from "./iam.js";
import type { WarehouseTarget } from "./warehouse-access.js";
import * as pulumi from "@pulumi/pulumi";

export function grafanaWarehouseStatements(ctx: AwsContext, target: WarehouseTarget, readerDbUser: string): PolicyStatement[] {
  const { scope, workgroupArn } = target;
  const provisioned = Boolean(scope.clusterIdentifier);
  const unknown = !workgroupArn && !provisioned;
  const warehouses: pulumi.Input<string>[] = [];
  if (workgroupArn) warehouses.push(workgroupArn);
  if (provisioned) warehouses.push(arn(ctx, "redshift", `cluster:${scope.clusterIdentifier}`));
  if (unknown) warehouses.push(arn(ctx, "redshift", "cluster:*"), arn(ctx, "redshift-serverless", "workgroup/*"));

  const statements: PolicyStatement[] = [
    {
      Sid: "ReadTheWarehouse",
      Effect: "Allow",
      Action: [
        "redshift-data:ExecuteStatement",
        "redshift-data:ListDatabases",
        "redshift-data:ListSchemas",
        "redshift-data:ListTables",
        "redshift-data:DescribeTable",
      ],
      Resource: warehouses,
    },
    {
      // These actions take no resource; the condition confines them to statements this role ran.
      Sid: "ReadOwnStatements",
      Effect: "Allow",
      Action: ["redshift-data:DescribeStatement", "redshift-data:GetStatementResult", "redshift-data:CancelStatement"],
      Resource: "*",
      Condition: { StringEquals: { "redshift-data:statement-owner-iam-userid": "${aws:userid}" } },
    },
  ];
  if (workgroupArn || unknown) {
    statements.push({
      Sid: "ServerlessCredentialsAsItsOwnUser",
      Effect: "Allow",
      Action: "redshift-serverless:GetCredentials",
      Resource: workgroupArn ?? arn(ctx, "redshift-serverless", "workgroup/*"),
    });
  }
  if (provisioned || unknown) {
    const cluster = scope.clusterIdentifier ?? "*";
    statements.push({
      Sid: "ClusterCredentialsForTheReaderOnly",
      Effect: "Allow",
      Action: "redshift:GetClusterCredentials",
      Resource: [arn(ctx, "redshift", `dbuser:${cluster}/${readerDbUser}`), arn(ctx, "redshift", `dbname:${cluster}/${scope.database ?? "*"}`)],
      // No DbGroups (no JoinGroup) and no AutoCreate: the reader user exists and holds only the reader role.
      Condition: { StringEquals: { "redshift:DbUser": readerDbUser } },
    });
  }
  return statements;
}
