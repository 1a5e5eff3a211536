// Where the Grafana host (and a stack-created Serverless workgroup) live.
//
// Given coffeetl:vpcId + coffeetl:subnetId, the client's network is used as is. Otherwise the stack
// builds its own small VPC with awsx: public subnets in three zones (a Serverless workgroup wants
// three), an internet gateway and routes, no NAT gateways (nothing here needs private egress, and a
// NAT gateway costs more than the rest of the stack). Its flow logs (rejected traffic) go to
// CloudWatch Logs. A dedicated VPC rather than the default one: many accounts have deleted theirs,
// and a client's other workloads then never share a network with the dashboard host.
import * as aws from "@pulumi/aws";
import * as awsx from "@pulumi/awsx";
import * as pulumi from "@pulumi/pulumi";
import { assumeRolePolicy, policyJson, type AwsContext } from "./iam.js";

export interface NetworkArgs {
  context: AwsContext;
  /** An existing VPC and a subnet in it with a route to the internet (both or neither). */
  vpcId?: string;
  subnetId?: string;
  cidrBlock?: string;
  logRetentionDays: number;
  tags?: Record<string, string>;
}

export class Network extends pulumi.ComponentResource {
  readonly vpcId: pulumi.Output<string>;
  /** The subnet the Grafana host is launched in. */
  readonly hostSubnetId: pulumi.Output<string>;
  /** Subnets for a Serverless workgroup (undefined with a client network: set coffeetl:warehouseSubnetIds). */
  readonly warehouseSubnetIds?: pulumi.Output<string[]>;

  constructor(name: string, args: NetworkArgs, opts?: pulumi.ComponentResourceOptions) {
    super("coffeetl:network:Network", name, {}, opts);
    if (args.vpcId && args.subnetId) {
      this.vpcId = pulumi.output(args.vpcId);
      this.hostSubnetId = pulumi.output(args.subnetId);
      this.registerOutputs({ vpcId: this.vpcId });
      return;
    }

    const vpc = new awsx.ec2.Vpc(
      `${name}-vpc`,
      {
        cidrBlock: args.cidrBlock ?? "10.42.0.0/16",
        numberOfAvailabilityZones: 3,
        enableDnsHostnames: true,
        enableDnsSupport: true,
        natGateways: { strategy: awsx.ec2.NatGatewayStrategy.None },
        subnetStrategy: awsx.ec2.SubnetAllocationStrategy.Auto,
        subnetSpecs: [{ type: awsx.ec2.SubnetType.Public, cidrMask: 24 }],
        tags: args.tags,
      },
      { parent: this },
    );
    this.vpcId = vpc.vpcId;
    this.hostSubnetId = vpc.publicSubnetIds.apply((ids) => {
      const first = ids[0];
      if (first === undefined) throw new Error("the Grafana VPC has no public subnet");
      return first;
    });
    this.warehouseSubnetIds = vpc.publicSubnetIds;

    const flowLogs = new aws.cloudwatch.LogGroup(`${name}-flow-logs`, { retentionInDays: args.logRetentionDays, tags: args.tags }, { parent: this });
    const flowRole = new aws.iam.Role(
      `${name}-flow-logs-role`,
      { assumeRolePolicy: assumeRolePolicy("vpc-flow-logs.amazonaws.com", args.context.accountId), tags: args.tags },
      { parent: this },
    );
    new aws.iam.RolePolicy(
      `${name}-flow-logs-policy`,
      {
        role: flowRole.id,
        policy: policyJson([
          {
            Effect: "Allow",
            Action: ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
            Resource: [flowLogs.arn, pulumi.interpolate`${flowLogs.arn}:log-stream:*`],
          },
        ]),
      },
      { parent: this },
    );
    new aws.ec2.FlowLog(
      `${name}-flow-log`,
      {
        vpcId: vpc.vpcId,
        trafficType: "REJECT",
        logDestinationType: "cloud-watch-logs",
        logDestination: flowLogs.arn,
        iamRoleArn: flowRole.arn,
        tags: args.tags,
      },
      { parent: this },
    );
    this.registerOutputs({ vpcId: this.vpcId, hostSubnetId: this.hostSubnetId });
  }
}
