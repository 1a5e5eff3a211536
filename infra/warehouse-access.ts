// IAM statements for reaching the warehouse through the Redshift Data API, shared by the load
// function and the Grafana host. The connection JSON lives in an SSM parameter whose value is not
// known when the stack is deployed, so the resources are narrowed by what is known:
//   - a Serverless warehouse this stack creates: its workgroup ARN exactly;
//   - coffeetl:redshiftWorkgroupName: that workgroup's ARN (looked up);
//   - coffeetl:redshiftClusterIdentifier (+ redshiftDbUser / redshiftDatabase): that cluster, user, database;
//   - coffeetl:redshiftSecretArn: that secret only;
//   - nothing known: refused by the configuration (infra/config.ts), so no role ever gets
//     credentials for "any user on any cluster".
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { arn, type AwsContext, type PolicyStatement } from "./iam.js";
import type { RedshiftScope } from "./config.js";

export interface WarehouseTarget {
  /** The Serverless workgroup's ARN: created by this stack, or looked up from redshiftWorkgroupName. */
  workgroupArn?: pulumi.Input<string>;
  /** True when this stack created the warehouse (no secret, no cluster). */
  managed: boolean;
  scope: RedshiftScope;
}

/** Who asks: the load function writes (batch + single statements); Grafana reads and browses schemas. */
export type WarehouseClient = "load" | "grafana";

/** The ARN of an existing Serverless workgroup named in the config (workgroup ARNs carry an id, not the name). */
export function lookupWorkgroupArn(workgroupName: string, opts?: pulumi.InvokeOutputOptions): pulumi.Output<string> {
  return aws.redshiftserverless.getWorkgroupOutput({ workgroupName }, opts).arn;
}

export function warehouseAccessStatements(ctx: AwsContext, target: WarehouseTarget, client: WarehouseClient): PolicyStatement[] {
  const { scope, workgroupArn } = target;
  const cluster = scope.clusterIdentifier;
  // The configuration refuses an unnamed warehouse (infra/config.ts): never grant "any cluster".
  if (!workgroupArn && !cluster)
    throw new Error("warehouse access needs a workgroup or a cluster identifier (coffeetl:redshiftWorkgroupName / redshiftClusterIdentifier)");

  const warehouses: pulumi.Input<string>[] = [];
  if (workgroupArn) warehouses.push(workgroupArn);
  if (cluster) warehouses.push(arn(ctx, "redshift", `cluster:${cluster}`));

  const runActions =
    client === "load"
      ? ["redshift-data:BatchExecuteStatement", "redshift-data:ExecuteStatement"]
      : [
          "redshift-data:ExecuteStatement",
          "redshift-data:ListDatabases",
          "redshift-data:ListSchemas",
          "redshift-data:ListTables",
          "redshift-data:DescribeTable",
        ];
  const statements: PolicyStatement[] = [
    { Sid: "RunStatementsOnTheWarehouse", Effect: "Allow", Action: runActions, Resource: warehouses },
    {
      // These actions take no resource; the condition confines them to statements this role ran.
      Sid: "ReadOwnStatements",
      Effect: "Allow",
      Action: ["redshift-data:DescribeStatement", "redshift-data:GetStatementResult", "redshift-data:CancelStatement"],
      Resource: "*",
      Condition: { StringEquals: { "redshift-data:statement-owner-iam-userid": "${aws:userid}" } },
    },
  ];

  if (workgroupArn) {
    // Serverless with IAM identity: the database user is the role itself (IAMR:<role>).
    statements.push({ Sid: "ServerlessTemporaryCredentials", Effect: "Allow", Action: "redshift-serverless:GetCredentials", Resource: workgroupArn });
  }
  if (cluster && scope.dbUser) {
    // Temporary credentials for that user on that database of that cluster, and nothing else.
    statements.push({
      Sid: "ClusterTemporaryCredentials",
      Effect: "Allow",
      Action: "redshift:GetClusterCredentials",
      Resource: [arn(ctx, "redshift", `dbuser:${cluster}/${scope.dbUser}`), arn(ctx, "redshift", `dbname:${cluster}/${scope.database}`)],
    });
  }
  if (scope.secretArn) {
    statements.push({ Sid: "ReadWarehouseSecret", Effect: "Allow", Action: "secretsmanager:GetSecretValue", Resource: scope.secretArn });
  }
  return statements;
}
