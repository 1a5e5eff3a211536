// infra/network.ts alone under mocks: a client's VPC and subnet are used as they are (nothing created);
// otherwise a VPC of public subnets in three zones without NAT gateways, and flow logs of rejected
// traffic written by a role only the flow-logs service of this account may assume.
import * as pulumi from "@pulumi/pulumi";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { Network } from "../infra/network.js";
import { declare } from "./infra/component.js";
import { settle, statementsOf } from "./infra/harness.js";

const ctx = {
  partition: pulumi.output("aws"),
  region: pulumi.output("eu-west-2"),
  accountId: pulumi.output("123456789012"),
  dnsSuffix: pulumi.output("amazonaws.com"),
};
let client: Network | undefined;
let own: Network | undefined;
const d = await declare(() => {
  client = new Network("client", { context: ctx, vpcId: "vpc-client", subnetId: "subnet-client", logRetentionDays: 30 });
  own = new Network("grafana", { context: ctx, logRetentionDays: 14 });
});

test("a client network: its VPC and subnet, and nothing created under the component", async () => {
  assert.equal([await settle(client!.vpcId), await settle(client!.hostSubnetId)], ["vpc-client", "subnet-client"]);
  assert.is(client!.warehouseSubnetIds, undefined);
  assert.equal(
    d.resources.filter((r) => r.parent === "coffeetl:network:Network::client"),
    [],
  );
});

test("its own network: three zones of public subnets, no NAT gateway; the host in the first subnet, a workgroup across all", async () => {
  const vpc = d.one("awsx:ec2:Vpc", "grafana-vpc");
  assert.equal([vpc.inputs.cidrBlock, vpc.inputs.numberOfAvailabilityZones, vpc.inputs.natGateways], ["10.42.0.0/16", 3, { strategy: "None" }]);
  assert.equal(vpc.inputs.subnetSpecs, [{ type: "Public", cidrMask: 24 }]);
  assert.is(await settle(own!.hostSubnetId), "subnet-0a");
  assert.equal(await settle(own!.warehouseSubnetIds), ["subnet-0a", "subnet-0b", "subnet-0c"]);
});

test("flow logs of rejected traffic to CloudWatch, by a role the flow-logs service assumes for this account only", () => {
  const flow = d.one("aws:ec2/flowLog:FlowLog", "grafana-flow-log");
  assert.equal([flow.inputs.trafficType, flow.inputs.logDestinationType], ["REJECT", "cloud-watch-logs"]);
  assert.is(d.one("aws:cloudwatch/logGroup:LogGroup", "grafana-flow-logs").inputs.retentionInDays, 14);
  const [trust] = statementsOf(d.one("aws:iam/role:Role", "grafana-flow-logs-role").inputs.assumeRolePolicy);
  assert.equal(trust!.Principal, { Service: "vpc-flow-logs.amazonaws.com" });
  assert.equal(trust!.Condition, { StringEquals: { "aws:SourceAccount": "123456789012" } });
  const [write] = statementsOf(d.one("aws:iam/rolePolicy:RolePolicy", "grafana-flow-logs-policy").inputs.policy);
  assert.equal(write!.Action, ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"]);
  assert.is((write!.Resource as string[]).length, 2);
});

test.run();
