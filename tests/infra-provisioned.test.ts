// A client's provisioned cluster named in the config, in the client's own VPC, Grafana on a private
// address reachable from two CIDRs. Run alone: node --import tsx tests/infra-provisioned.test.ts
import { test } from "uvu";
import * as assert from "uvu/assert";
import { evaluatePolicies } from "./fixtures/iam-policies.js";
import { ACCOUNT, asList, runProgram, statementsOf } from "./infra/harness.js";

const h = await runProgram({
  redshiftParameterName: "/clients/acme/redshift",
  grafanaAllowedCidrs: '["10.20.0.0/16","192.0.2.10/32"]',
  redshiftClusterIdentifier: "acme-dw",
  redshiftDbUser: "coffeetl_loader",
  redshiftDatabase: "analytics",
  vpcId: "vpc-0123abcd",
  subnetId: "subnet-0456ef",
  grafanaPublicIp: "false",
  maxRetryAttempts: "1",
  maxEventAgeSeconds: "3600",
  logRetentionDays: "90",
  loadBatchingWindowSeconds: "5",
  loadPollMaxMs: "2500",
});
const allowed = (policy: string, action: string) =>
  statementsOf(h.one("aws:iam/rolePolicy:RolePolicy", policy).inputs.policy).filter((s) => s.Effect === "Allow" && asList(s.Action).includes(action));
const arn = (resource: string) => `arn:aws:redshift:eu-west-2:${ACCOUNT}:${resource}`;

test("Data API and credentials narrowed to the named cluster, user and database", () => {
  for (const [policy, user] of [
    ["load-policy", "coffeetl_loader"],
    ["grafana-policy", "coffeetl_grafana"],
  ] as const) {
    assert.equal(allowed(policy, "redshift-data:ExecuteStatement")[0]?.Resource, [arn("cluster:acme-dw")], policy);
    // Grafana: its own read-only user (tests/infra-grafana.test.ts), never the loader's.
    assert.equal(allowed(policy, "redshift:GetClusterCredentials")[0]?.Resource, [arn(`dbuser:acme-dw/${user}`), arn("dbname:acme-dw/analytics")], policy);
    assert.is(allowed(policy, "redshift-serverless:GetCredentials").length, 0, policy);
    assert.is(allowed(policy, "secretsmanager:GetSecretValue").length, 0, "dbUser given: temporary credentials, no secret");
  }
  assert.equal(allowed("load-policy", "ssm:GetParameter")[0]?.Resource, `arn:aws:ssm:eu-west-2:${ACCOUNT}:parameter/clients/acme/redshift`);
});

test("the client's network: no VPC built, Grafana in the given subnet, private address behind CloudFront, no Elastic IP", () => {
  assert.is(h.byType("awsx:ec2:Vpc").length, 0);
  assert.is(h.byType("aws:ec2/eip:Eip").length, 0);
  assert.is(h.one("aws:ec2/securityGroup:SecurityGroup", "grafana-sg").inputs.vpcId, "vpc-0123abcd");
  const nic = h.one("aws:ec2/launchTemplate:LaunchTemplate", "grafana-template").inputs.networkInterfaces[0];
  assert.equal([nic.subnetId, nic.associatePublicIpAddress], ["subnet-0456ef", "false"]);
  assert.is(h.outputs.grafanaUrl, "https://d111111abcdef8.cloudfront.net");
  // The CIDRs are enforced at the front (WAF), never as security group rules.
  assert.equal(h.one("aws:wafv2/ipSet:IpSet", "grafana-front-allowed").inputs.addresses, ["10.20.0.0/16", "192.0.2.10/32"]);
  assert.equal(
    h.byType("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule").map((r) => [r.inputs.cidrIpv4, r.inputs.prefixListId]),
    [[undefined, "pl-4fa04526"]],
  );
});

test("tuning keys reach the resources", () => {
  for (const c of h.byType("aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig")) {
    assert.equal([c.inputs.maximumRetryAttempts, c.inputs.maximumEventAgeInSeconds], [1, 3600]);
  }
  assert.ok(h.byType("aws:cloudwatch/logGroup:LogGroup").every((g) => g.inputs.retentionInDays === 90));
  // The load's latency keys (issue 23): the queue mapping's batching window, the Data API polling cap.
  assert.is(h.one("aws:lambda/eventSourceMapping:EventSourceMapping", "load-queue-to-load-mapping").inputs.maximumBatchingWindowInSeconds, 5);
  assert.is(h.one("aws:lambda/function:Function", "load").inputs.environment.variables.LOAD_POLL_MAX_MS, "2500");
});

test("policy rules pass on this variant too", () => {
  assert.equal(evaluatePolicies(h.resources.map(({ type, name, id, props }) => ({ type, name, id, props }))), []);
});

test.run();
