// Optional complete warehouse (`coffeetl:warehouse: serverless`) for a client with no Redshift yet:
// a Redshift Serverless namespace (admin password generated and kept by AWS in Secrets Manager) and
// workgroup (not publicly accessible), the role COPY runs with (reads the transformed bucket, nothing
// else), and the SSM parameter with the connection JSON the load function and Grafana read.
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { assumeRolePolicy, policyJson } from "./iam.js";

/** The usage alarm goes off at this share of the usage limit, before its breach action. */
const USAGE_WARNING_SHARE = 0.75;

export interface ServerlessWarehouseArgs {
  /** Namespace and workgroup name (lower case letters, digits, hyphens). */
  warehouseName: string;
  database: string;
  adminUsername: string;
  baseCapacity: number;
  /** Ceiling the workgroup scales to (RPUs). */
  maxCapacity: number;
  /** RPU-hours per period, and what Redshift does when they are used up; undefined: no limit. */
  usageLimit?: { rpuHours: number; period: "daily" | "weekly" | "monthly"; breachAction: "log" | "emit-metric" | "deactivate" };
  /** Retention of the log groups the namespace's log exports write to. */
  logRetentionDays?: number;
  /** Topic for the capacity and usage alarms. */
  alarmTopicArn?: pulumi.Input<string>;
  /** Where the workgroup's endpoint lives (the Data API does not need it reachable). */
  subnetIds?: pulumi.Input<pulumi.Input<string>[]>;
  vpcId?: pulumi.Input<string>;
  /** The bucket COPY reads from. */
  transformedBucketArn: pulumi.Input<string>;
  /** The connection parameter to write (coffeetl:redshiftParameterName). */
  parameterName: string;
  /** Protect the namespace (coffeetl:warehouseProtect, default true): it holds every loaded day. */
  protect: boolean;
  tags?: Record<string, string>;
}

export class ServerlessWarehouse extends pulumi.ComponentResource {
  readonly namespace: aws.redshiftserverless.Namespace;
  readonly workgroup: aws.redshiftserverless.Workgroup;
  readonly copyRole: aws.iam.Role;
  readonly parameter: aws.ssm.Parameter;
  readonly workgroupArn: pulumi.Output<string>;
  readonly workgroupName: pulumi.Output<string>;
  readonly usageLimit?: aws.redshiftserverless.UsageLimit;

  constructor(name: string, args: ServerlessWarehouseArgs, opts?: pulumi.ComponentResourceOptions) {
    super("coffeetl:warehouse:ServerlessWarehouse", name, {}, opts);
    const parent = { parent: this };

    this.copyRole = new aws.iam.Role(
      `${name}-copy-role`,
      {
        description: "Role Redshift assumes to COPY the CoffeETL transformed files",
        // Serverless assumes it as redshift-serverless; COPY on a cluster as redshift. No condition: the
        // only ones AWS documents for Redshift's use of such a role are sts:ExternalId naming database
        // users and a Region ("Restricting access to IAM roles",
        // https://docs.aws.amazon.com/redshift/latest/mgmt/authorizing-redshift-service-database-users.html);
        // no page says Redshift sends aws:SourceAccount, and without it every COPY would be refused.
        // A database-user condition would tie COPY to the loader's IAMR name, which a replaced role
        // changes. The role is usable only by a namespace it is attached to (iam:PassRole, this account).
        assumeRolePolicy: assumeRolePolicy(["redshift.amazonaws.com", "redshift-serverless.amazonaws.com"]),
        tags: args.tags,
      },
      parent,
    );
    new aws.iam.RolePolicy(
      `${name}-copy-policy`,
      {
        role: this.copyRole.id,
        policy: policyJson([
          { Sid: "ListTransformedBucket", Effect: "Allow", Action: ["s3:ListBucket", "s3:GetBucketLocation"], Resource: args.transformedBucketArn },
          { Sid: "ReadTransformedFiles", Effect: "Allow", Action: "s3:GetObject", Resource: pulumi.interpolate`${args.transformedBucketArn}/*` },
        ]),
      },
      parent,
    );

    let securityGroupIds: pulumi.Input<string>[] | undefined;
    if (args.vpcId) {
      // No rules: nothing connects to port 5439 (the Data API does not go through the VPC).
      const sg = new aws.ec2.SecurityGroup(
        `${name}-sg`,
        { vpcId: args.vpcId, description: "CoffeETL Redshift Serverless endpoint: no inbound, no outbound", tags: args.tags },
        parent,
      );
      securityGroupIds = [sg.id];
    }

    // A changed database or admin name would replace the namespace (and drop every loaded day):
    // refused at preview with the reason, before Pulumi's own refusal of a protected replacement.
    const unchanged = pulumi.output(
      aws.redshiftserverless
        .getNamespace({ namespaceName: args.warehouseName }, parent)
        .then(
          (live) => live,
          () => undefined,
        ) // not created yet
        .then((live) => {
          const problem = namespaceReplacementProblem(args.warehouseName, live, { database: args.database, adminUsername: args.adminUsername });
          if (problem) throw new Error(problem);
          return true;
        }),
    );
    // The log exports' groups, declared first with a retention: left to Redshift, they are created on
    // the first entry and kept forever (every dashboard query's connection is a connectionlog entry).
    const logExports = ["connectionlog", "userlog"];
    const logGroups = logExports.map(
      (type) =>
        new aws.cloudwatch.LogGroup(
          `${name}-${type}`,
          { name: `/aws/redshift/${args.warehouseName}/${type}`, retentionInDays: args.logRetentionDays ?? 30, tags: args.tags },
          parent,
        ),
    );
    this.namespace = new aws.redshiftserverless.Namespace(
      `${name}-namespace`,
      {
        namespaceName: args.warehouseName,
        dbName: unchanged.apply(() => args.database),
        adminUsername: args.adminUsername,
        manageAdminPassword: true,
        iamRoles: [this.copyRole.arn],
        defaultIamRoleArn: this.copyRole.arn,
        logExports,
        tags: args.tags,
      },
      { parent: this, dependsOn: logGroups, protect: args.protect },
    );
    this.workgroup = new aws.redshiftserverless.Workgroup(
      `${name}-workgroup`,
      {
        workgroupName: args.warehouseName,
        namespaceName: this.namespace.namespaceName,
        baseCapacity: args.baseCapacity,
        maxCapacity: args.maxCapacity,
        publiclyAccessible: false,
        enhancedVpcRouting: false,
        subnetIds: args.subnetIds,
        securityGroupIds,
        tags: args.tags,
      },
      parent,
    );
    this.workgroupArn = this.workgroup.arn;
    this.workgroupName = this.workgroup.workgroupName;
    const actions = args.alarmTopicArn ? [args.alarmTopicArn] : [];
    const alarm = (suffix: string, settings: Omit<aws.cloudwatch.MetricAlarmArgs, "namespace" | "dimensions" | "alarmActions" | "okActions" | "tags">) =>
      new aws.cloudwatch.MetricAlarm(
        `${name}-${suffix}-alarm`,
        {
          ...settings,
          namespace: "AWS/Redshift-Serverless",
          dimensions: { Workgroup: args.warehouseName },
          treatMissingData: "notBreaching",
          alarmActions: actions,
          okActions: actions,
          tags: args.tags,
        },
        { parent: this, dependsOn: [this.workgroup] },
      );
    // Pinned at its ceiling for 15 minutes: queries queue; raise warehouseMaxCapacity or look at the load.
    alarm("max-capacity", {
      alarmDescription: `CoffeETL: warehouse ${args.warehouseName} has run at its maximum capacity (${args.maxCapacity} RPU) for 15 minutes.`,
      metricName: "ComputeCapacity",
      statistic: "Maximum",
      period: 300,
      evaluationPeriods: 3,
      threshold: args.maxCapacity,
      comparisonOperator: "GreaterThanOrEqualToThreshold",
    });
    if (args.usageLimit) {
      // A day's RPU-seconds above 75% of the limit's daily share: on course to reach the limit this
      // period, said before Redshift applies the breach action (by default, stopping queries).
      const days = { daily: 1, weekly: 7, monthly: 30 }[args.usageLimit.period];
      const dailyShareSeconds = Math.floor((args.usageLimit.rpuHours * 3600 * USAGE_WARNING_SHARE) / days);
      alarm("usage", {
        alarmDescription: `CoffeETL: warehouse ${args.warehouseName} used more than ${+(dailyShareSeconds / 3600).toFixed(1)} RPU-hours in a day, ${USAGE_WARNING_SHARE * 100}% of its daily share of the ${args.usageLimit.period} usage limit of ${args.usageLimit.rpuHours} RPU-hours (breach action: ${args.usageLimit.breachAction}${args.usageLimit.breachAction === "deactivate" ? ": queries, loads included, stop until the period ends; failed loads stay queued for redrive" : ""}).`,
        metricName: "ComputeSeconds",
        statistic: "Sum",
        period: 86400,
        evaluationPeriods: 1,
        threshold: dailyShareSeconds,
        comparisonOperator: "GreaterThanThreshold",
      });
    }
    if (args.usageLimit) {
      this.usageLimit = new aws.redshiftserverless.UsageLimit(
        `${name}-usage-limit`,
        {
          resourceArn: this.workgroup.arn,
          usageType: "serverless-compute",
          amount: args.usageLimit.rpuHours,
          period: args.usageLimit.period,
          breachAction: args.usageLimit.breachAction,
        },
        parent,
      );
    }

    this.parameter = new aws.ssm.Parameter(
      `${name}-connection`,
      {
        name: args.parameterName,
        description: "CoffeETL warehouse connection (created by the stack)",
        type: "String",
        value: pulumi.jsonStringify({ workgroupName: this.workgroup.workgroupName, database: args.database, copyRoleArn: this.copyRole.arn }),
        tags: args.tags,
      },
      parent,
    );
    this.registerOutputs({ workgroupName: this.workgroupName, workgroupArn: this.workgroupArn });
  }
}

/**
 * Why the configured database or admin user cannot be applied to the live namespace `name`, or
 * undefined (no namespace yet, or the same values). Either change replaces the namespace.
 */
export function namespaceReplacementProblem(
  name: string,
  live: { dbName?: string; adminUsername?: string } | undefined,
  wanted: { database: string; adminUsername: string },
): string | undefined {
  if (!live?.dbName) return undefined;
  const changed: string[] = [];
  if (live.dbName !== wanted.database) changed.push(`coffeetl:warehouseDatabase is "${wanted.database}" but the warehouse's database is "${live.dbName}"`);
  if (live.adminUsername && live.adminUsername !== wanted.adminUsername) {
    changed.push(`coffeetl:warehouseAdminUsername is "${wanted.adminUsername}" but the warehouse's admin is "${live.adminUsername}"`);
  }
  if (!changed.length) return undefined;
  return (
    `${changed.join("; ")}: applying it would replace Redshift Serverless namespace ${name} and delete every loaded day. ` +
    "Set the key back to the warehouse's value. To rebuild the warehouse on purpose, take a snapshot first " +
    `(aws redshift-serverless create-snapshot --namespace-name ${name} --snapshot-name <name>), then see "Destroy" in docs/deploy.md`
  );
}
