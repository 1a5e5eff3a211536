// `coffeetl:warehouse: serverless` (a client with no Redshift yet), with alarm e-mail and an x86
// Grafana host. Run alone: node --import tsx tests/infra-serverless.test.ts
import { readFileSync } from "node:fs";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { evaluatePolicies } from "./fixtures/iam-policies.js";
import { ACCOUNT, asList, runProgram, statementsOf } from "./infra/harness.js";

const h = await runProgram(
  {
    redshiftParameterName: "/coffeetl/newco-dev/redshift",
    grafanaAllowedCidrs: "192.0.2.0/24",
    warehouse: "serverless",
    warehouseDatabase: "sales",
    alarmEmail: "ops@example.com",
    grafanaInstanceType: "t3.small",
  },
  "NewCo_dev",
);
const WORKGROUP_ARN = `arn:aws:redshift-serverless:eu-west-2:${ACCOUNT}:workgroup/0f0e0d0c-aaaa-bbbb-cccc-000000000001`;
const allowed = (policy: string, action: string) =>
  statementsOf(h.one("aws:iam/rolePolicy:RolePolicy", policy).inputs.policy).filter((s) => s.Effect === "Allow" && asList(s.Action).includes(action));

test("namespace with an AWS-managed admin password, private workgroup in the stack's subnets", () => {
  const ns = h.one("aws:redshiftserverless/namespace:Namespace", "warehouse-namespace");
  const copyRole = h.one("aws:iam/role:Role", "warehouse-copy-role");
  assert.is(ns.inputs.namespaceName, "coffeetl-newco-dev");
  assert.is(ns.inputs.dbName, "sales");
  assert.is(ns.inputs.manageAdminPassword, true);
  assert.not.ok(ns.inputs.adminUserPassword, "no password in the state");
  assert.equal(ns.inputs.iamRoles, [copyRole.props.arn]);
  const wg = h.one("aws:redshiftserverless/workgroup:Workgroup", "warehouse-workgroup");
  assert.equal(
    [wg.inputs.workgroupName, wg.inputs.namespaceName, wg.inputs.publiclyAccessible, wg.inputs.baseCapacity],
    ["coffeetl-newco-dev", "coffeetl-newco-dev", false, 8],
  );
  assert.equal(wg.inputs.subnetIds, ["subnet-0a", "subnet-0b", "subnet-0c"]);
  assert.equal(wg.inputs.securityGroupIds, ["sg-warehouse-sg"]);
  assert.is(h.byType("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule").filter((r) => r.inputs.securityGroupId === "sg-warehouse-sg").length, 0);
});

test("the namespace is protected by default, and checked against the live one before any change", () => {
  const ns = h.one("aws:redshiftserverless/namespace:Namespace", "warehouse-namespace");
  assert.is(ns.protect, true, "protect: a config change or destroy cannot delete the loaded history");
  const lookups = h.invokes.filter((i) => i.token === "aws:redshiftserverless/getNamespace:getNamespace");
  assert.equal(
    lookups.map((i) => i.args.namespaceName),
    ["coffeetl-newco-dev"],
  );
});

test("COPY role: trusted by both Redshift principals with no condition AWS does not document for it; reads only the transformed bucket", () => {
  const trust = statementsOf(h.one("aws:iam/role:Role", "warehouse-copy-role").inputs.assumeRolePolicy);
  assert.is(trust.length, 1);
  assert.equal(trust[0], {
    Effect: "Allow",
    Principal: { Service: ["redshift.amazonaws.com", "redshift-serverless.amazonaws.com"] },
    Action: "sts:AssumeRole",
  });
  const transformed = `arn:aws:s3:::${h.one("aws:s3/bucket:Bucket", "transformed").id}`;
  const s = statementsOf(h.one("aws:iam/rolePolicy:RolePolicy", "warehouse-copy-policy").inputs.policy);
  assert.equal(
    s.map((x) => [x.Action, x.Resource]),
    [
      [["s3:ListBucket", "s3:GetBucketLocation"], transformed],
      ["s3:GetObject", `${transformed}/*`],
    ],
  );
});

test("the COPY role's trust, its comment and docs/deploy.md agree: the same AWS page, no aws:SourceAccount asked of clients", () => {
  const page = "https://docs.aws.amazon.com/redshift/latest/mgmt/authorizing-redshift-service-database-users.html";
  const code = readFileSync(new URL("../infra/warehouse.ts", import.meta.url), "utf8");
  const docs = readFileSync(new URL("../docs/deploy.md", import.meta.url), "utf8");
  assert.ok(code.includes(page), "the code comment cites the page");
  assert.ok(docs.includes(page), "docs/deploy.md cites the page");
  const copyRoleDocs = docs.slice(docs.indexOf("its COPY role (`copyRoleArn`)"), docs.indexOf("The stack must also be told"));
  assert.match(copyRoleDocs, /no `aws:SourceAccount`/);
  assert.not.match(copyRoleDocs, /with an `aws:SourceAccount`/);
  assert.not.ok(JSON.stringify(statementsOf(h.one("aws:iam/role:Role", "warehouse-copy-role").inputs.assumeRolePolicy)).includes("Condition"));
});

test("the connection parameter is written by the stack", () => {
  const p = h.one("aws:ssm/parameter:Parameter", "warehouse-connection");
  assert.is(p.inputs.name, "/coffeetl/newco-dev/redshift");
  assert.is(p.inputs.type, "String");
  // The provider marks every parameter value secret; this one is not sensitive, but stays wrapped.
  const value = typeof p.inputs.value === "string" ? p.inputs.value : p.inputs.value.value;
  assert.equal(JSON.parse(value), {
    workgroupName: "coffeetl-newco-dev",
    database: "sales",
    copyRoleArn: h.one("aws:iam/role:Role", "warehouse-copy-role").props.arn,
  });
});

test("load and Grafana are scoped to that workgroup; no cluster, no secret access", () => {
  for (const policy of ["load-policy", "grafana-policy"]) {
    assert.equal(allowed(policy, "redshift-data:ExecuteStatement")[0]?.Resource, [WORKGROUP_ARN], policy);
    assert.equal(allowed(policy, "redshift-serverless:GetCredentials")[0]?.Resource, WORKGROUP_ARN, policy);
    assert.is(allowed(policy, "redshift:GetClusterCredentials").length, 0, policy);
    assert.is(allowed(policy, "secretsmanager:GetSecretValue").length, 0, policy);
  }
});

test("capacity: a maximum, a daily usage limit that stops queries, an alarm before it, alarms on both", () => {
  const wg = h.one("aws:redshiftserverless/workgroup:Workgroup", "warehouse-workgroup");
  assert.equal([wg.inputs.baseCapacity, wg.inputs.maxCapacity], [8, 32]);
  const limit = h.one("aws:redshiftserverless/usageLimit:UsageLimit", "warehouse-usage-limit");
  assert.equal(
    [limit.inputs.resourceArn, limit.inputs.usageType, limit.inputs.amount, limit.inputs.period, limit.inputs.breachAction],
    [WORKGROUP_ARN, "serverless-compute", 8, "daily", "deactivate"],
  );
  const topic = h.one("aws:sns/topic:Topic", "alarms").props.arn;
  const capacity = h.one("aws:cloudwatch/metricAlarm:MetricAlarm", "warehouse-max-capacity-alarm");
  assert.equal(
    [
      capacity.inputs.namespace,
      capacity.inputs.metricName,
      capacity.inputs.dimensions,
      capacity.inputs.threshold,
      capacity.inputs.comparisonOperator,
      capacity.inputs.alarmActions,
    ],
    ["AWS/Redshift-Serverless", "ComputeCapacity", { Workgroup: "coffeetl-newco-dev" }, 32, "GreaterThanOrEqualToThreshold", [topic]],
  );
  const usage = h.one("aws:cloudwatch/metricAlarm:MetricAlarm", "warehouse-usage-alarm");
  assert.equal(
    [usage.inputs.metricName, usage.inputs.statistic, usage.inputs.period, usage.inputs.threshold],
    ["ComputeSeconds", "Sum", 86400, 0.75 * 8 * 3600],
  );
  assert.ok(usage.inputs.threshold < limit.inputs.amount * 3600, "the alarm goes off before the limit stops queries");
});

test("an alarm when Grafana's reader lacks SELECT on a CoffeETL table (the load function's metric)", () => {
  const alarm = h.one("aws:cloudwatch/metricAlarm:MetricAlarm", "load-reader-grants-alarm");
  const load = h.one("aws:lambda/function:Function", "load");
  assert.equal(
    [alarm.inputs.namespace, alarm.inputs.metricName, alarm.inputs.dimensions, alarm.inputs.statistic, alarm.inputs.threshold, alarm.inputs.comparisonOperator],
    ["CoffeETL", "ReaderTablesWithoutSelect", { service: load.inputs.environment.variables.POWERTOOLS_SERVICE_NAME }, "Maximum", 0, "GreaterThanThreshold"],
  );
  assert.equal(alarm.inputs.alarmActions, [h.one("aws:sns/topic:Topic", "alarms").props.arn]);
});

test("every log group the stack causes has a retention, the warehouse's log exports included", () => {
  const groups = h.byType("aws:cloudwatch/logGroup:LogGroup");
  for (const type of ["connectionlog", "userlog"]) {
    const g = groups.find((x) => x.inputs.name === `/aws/redshift/coffeetl-newco-dev/${type}`);
    assert.ok(g, `the ${type} export's group is declared`);
  }
  const exports = h.one("aws:redshiftserverless/namespace:Namespace", "warehouse-namespace").inputs.logExports as string[];
  for (const type of exports)
    assert.ok(
      groups.some((g) => g.inputs.name === `/aws/redshift/coffeetl-newco-dev/${type}`),
      `${type} is exported into a declared group`,
    );
  assert.ok(groups.length > 2);
  for (const g of groups) assert.is(g.inputs.retentionInDays, 30, g.name);
});

test("alarm e-mail: topic, subscription, alarm actions", () => {
  const topic = h.one("aws:sns/topic:Topic", "alarms");
  const sub = h.one("aws:sns/topicSubscription:TopicSubscription", "alarms-email");
  assert.equal([sub.inputs.protocol, sub.inputs.endpoint, sub.inputs.topic], ["email", "ops@example.com", topic.props.arn]);
  const alarm = h.one("aws:cloudwatch/metricAlarm:MetricAlarm", "dead-letters-alarm");
  assert.equal(alarm.inputs.alarmActions, [topic.props.arn]);
  assert.equal(alarm.inputs.okActions, [topic.props.arn]);
  assert.is(h.outputs.alarmTopicArn, topic.props.arn);
});

test("stack name slugged where AWS requires lower case; x86 AMI for an x86 type", () => {
  assert.ok(h.one("aws:s3/bucket:Bucket", "raw").id.startsWith("coffeetl-newco-dev-raw-"));
  assert.is(h.one("aws:lambda/function:Function", "load").inputs.name, "coffeetl-NewCo_dev-load");
  assert.is(
    h.one("aws:ec2/launchTemplate:LaunchTemplate", "grafana-template").inputs.imageId,
    "resolve:ssm:/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64",
  );
  assert.is(h.outputs.warehouseWorkgroupName, "coffeetl-newco-dev");
  assert.is(h.outputs.copyRoleArn, h.one("aws:iam/role:Role", "warehouse-copy-role").props.arn);
});

test("policy rules pass on this variant too", () => {
  assert.equal(evaluatePolicies(h.resources.map(({ type, name, id, props }) => ({ type, name, id, props }))), []);
});

test.run();
