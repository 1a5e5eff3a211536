// Optional complete warehouse (`coffeetl:warehouse: serverless`) for a client with no Redshift yet:
// a Redshift Serverless namespace (admin password generated and kept by AWS in Secrets Manager) and
// workgroup (not publicly accessible), the role COPY runs with (reads the transformed bucket, nothing
// else), and the SSM parameter with the connection JSON the load function and Grafana read.
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { assumeRolePolicy, policyJson } from "./iam.js";

export interface ServerlessWarehouseArgs {
  /** Namespace and workgroup name (lower case letters, digits, hyphens). */
  warehouseName: string;
  database: string;
  adminUsername: string;
  baseCapacity: number;
  /** Where the workgroup's endpoint lives (the Data API does not need it reachable). */
  subnetIds?: pulumi.Input<pulumi.Input<string>[]>;
  vpcId?: pulumi.Input<string>;
  /** The bucket COPY reads from. */
  transformedBucketArn: pulumi.Input<string>;
  /** The connection parameter to write (coffeetl:redshiftParameterName). */
  parameterName: string;
  tags?: Record<string, string>;
}

export class ServerlessWarehouse extends pulumi.ComponentResource {
  readonly namespace: aws.redshiftserverless.Namespace;
  readonly workgroup: aws.redshiftserverless.Workgroup;
  readonly copyRole: aws.iam.Role;
  readonly parameter: aws.ssm.Parameter;
  readonly workgroupArn: pulumi.Output<string>;
  readonly workgroupName: pulumi.Output<string>;

  constructor(name: string, args: ServerlessWarehouseArgs, opts?: pulumi.ComponentResourceOptions) {
    super("coffeetl:warehouse:ServerlessWarehouse", name, {}, opts);
    const parent = { parent: this };

    this.copyRole = new aws.iam.Role(
      `${name}-copy-role`,
      {
        description: "Role Redshift assumes to COPY the CoffeETL transformed files",
        assumeRolePolicy: assumeRolePolicy("redshift.amazonaws.com"),
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

    this.namespace = new aws.redshiftserverless.Namespace(
      `${name}-namespace`,
      {
        namespaceName: args.warehouseName,
        dbName: args.database,
        adminUsername: args.adminUsername,
        manageAdminPassword: true,
        iamRoles: [this.copyRole.arn],
        defaultIamRoleArn: this.copyRole.arn,
        logExports: ["connectionlog", "userlog"],
        tags: args.tags,
      },
      parent,
    );
    this.workgroup = new aws.redshiftserverless.Workgroup(
      `${name}-workgroup`,
      {
        workgroupName: args.warehouseName,
        namespaceName: this.namespace.namespaceName,
        baseCapacity: args.baseCapacity,
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
