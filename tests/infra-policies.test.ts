// Policy rules (ported AWSGuard / Security Hub checks) over every resource the program declares, and
// proof that each rule catches the violation it is for.
// Run alone: node --import tsx tests/infra-policies.test.ts
import { test } from "uvu";
import * as assert from "uvu/assert";
import { evaluatePolicies, policyRules, type DeclaredResource } from "./fixtures/iam-policies.js";
import { runProgram } from "./infra/harness.js";

const h = await runProgram({
  redshiftParameterName: "/coffeetl/acme-prod/redshift",
  grafanaAllowedCidrs: '["203.0.113.0/24","198.51.100.7/32"]',
  redshiftClusterIdentifier: "acme-dw",
  redshiftSecretArn: "arn:aws:secretsmanager:eu-west-2:123456789012:secret:acme-dw-AbCdEf",
  uploaders: "leeds",
});
const declared: DeclaredResource[] = h.resources.map(({ type, name, id, props }) => ({ type, name, id, props }));

/** The stack with one resource's properties changed (deep copy: the recorded stack is never touched). */
function mutate(type: string, name: string, change: (props: Record<string, any>) => void): DeclaredResource[] {
  return declared.map((r) => {
    if (r.type !== type || r.name !== name) return r;
    const props = JSON.parse(JSON.stringify(r.props)) as Record<string, any>;
    change(props);
    return { ...r, props };
  });
}
const without = (type: string, name: string) => declared.filter((r) => !(r.type === type && r.name === name));
const add = (r: DeclaredResource) => [...declared, r];
const rulesFired = (resources: DeclaredResource[]) => [...new Set(evaluatePolicies(resources).map((v) => v.rule))].sort();

test("the program passes every rule, over every declared resource", () => {
  assert.ok(declared.length > 60, `recorded ${declared.length} resources`);
  assert.equal(evaluatePolicies(declared), []);
});

test("the rules apply to what the program declares (not vacuously)", () => {
  const types = new Set(declared.map((r) => r.type));
  for (const t of [
    "aws:s3/bucket:Bucket",
    "aws:iam/rolePolicy:RolePolicy",
    "aws:lambda/permission:Permission",
    "aws:lambda/function:Function",
    "aws:ec2/instance:Instance",
    "aws:ec2/launchTemplate:LaunchTemplate",
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
    "aws:sqs/queue:Queue",
    "aws:cloudwatch/logGroup:LogGroup",
    "aws:ssm/parameter:Parameter",
  ]) {
    assert.ok(types.has(t), `declares ${t}`);
  }
  assert.ok(policyRules().length >= 20);
});

const cases: [string, string, () => DeclaredResource[]][] = [
  [
    "s3 public access",
    "s3-public-access-blocked",
    () => mutate("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "raw-public-access", (p) => (p.blockPublicPolicy = false)),
  ],
  ["s3 missing access block", "s3-public-access-blocked", () => without("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "transformed-public-access")],
  [
    "s3 ACLs",
    "s3-acls-disabled",
    () => mutate("aws:s3/bucketOwnershipControls:BucketOwnershipControls", "raw-ownership", (p) => (p.rule.objectOwnership = "ObjectWriter")),
  ],
  [
    "s3 encryption",
    "s3-encrypted-at-rest",
    () => without("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration", "raw-encryption"),
  ],
  ["s3 TLS", "s3-tls-only", () => mutate("aws:s3/bucketPolicy:BucketPolicy", "transformed-policy", (p) => (p.policy = JSON.stringify({ Statement: [] })))],
  [
    "s3 public grant",
    "s3-no-public-grants",
    () =>
      mutate("aws:s3/bucketPolicy:BucketPolicy", "raw-policy", (p) => {
        const doc = JSON.parse(p.policy);
        doc.Statement.push({ Effect: "Allow", Principal: "*", Action: "s3:GetObject", Resource: "arn:aws:s3:::x/*" });
        p.policy = JSON.stringify(doc);
      }),
  ],
  ["s3 lifecycle", "s3-lifecycle-configured", () => without("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", "transformed-lifecycle")],
  [
    "raw versioning",
    "s3-versioning-on-upload-buckets",
    () => mutate("aws:s3/bucketVersioning:BucketVersioning", "raw-versioning", (p) => (p.versioningConfiguration.status = "Suspended")),
  ],
  [
    "service:* action",
    "iam-no-wildcard-actions",
    () =>
      mutate("aws:iam/rolePolicy:RolePolicy", "load-policy", (p) => {
        const doc = JSON.parse(p.policy);
        doc.Statement[0].Action = "s3:*";
        p.policy = JSON.stringify(doc);
      }),
  ],
  [
    "action on *",
    "iam-no-unscoped-resources",
    () =>
      mutate("aws:iam/rolePolicy:RolePolicy", "extract-transform-policy", (p) => {
        const doc = JSON.parse(p.policy);
        doc.Statement.push({ Effect: "Allow", Action: "ssm:GetParameter", Resource: "*" });
        p.policy = JSON.stringify(doc);
      }),
  ],
  [
    "FullAccess policy",
    "iam-no-full-access-managed-policies",
    () =>
      add({
        type: "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
        name: "grafana-s3",
        id: "att-1",
        props: { role: "grafana-role", policyArn: "arn:aws:iam::aws:policy/AmazonS3FullAccess" },
      }),
  ],
  [
    "permission without sourceAccount",
    "lambda-permission-scoped",
    () => mutate("aws:lambda/permission:Permission", "raw-to-extract-transform-permission", (p) => delete p.sourceAccount),
  ],
  ["deprecated runtime", "lambda-supported-runtime", () => mutate("aws:lambda/function:Function", "load", (p) => (p.runtime = "nodejs18.x"))],
  [
    "no failure destination",
    "lambda-async-failures-kept",
    () => without("aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig", "extract-transform-async"),
  ],
  ["queue consumer without redrive", "lambda-async-failures-kept", () => mutate("aws:sqs/queue:Queue", "load-queue", (p) => delete p.redrivePolicy)],
  ["log retention", "lambda-logs-retained", () => mutate("aws:cloudwatch/logGroup:LogGroup", "load-logs", (p) => delete p.retentionInDays)],
  ["unencrypted queue", "sqs-encrypted", () => mutate("aws:sqs/queue:Queue", "dead-letters", (p) => (p.sqsManagedSseEnabled = false))],
  ["queue without alarm", "dead-letter-queue-alarmed", () => without("aws:cloudwatch/metricAlarm:MetricAlarm", "dead-letters-alarm")],
  ["redrive target without alarm", "dead-letter-queue-alarmed", () => without("aws:cloudwatch/metricAlarm:MetricAlarm", "load-queue-dlq-alarm")],
  ["queue without TLS policy", "sqs-tls-only", () => without("aws:sqs/queuePolicy:QueuePolicy", "load-queue-policy")],
  [
    "upload identity with a policy of its own",
    "iam-users-without-policies",
    () =>
      add({ type: "aws:iam/userPolicy:UserPolicy", name: "uploads-leeds-policy", id: "p", props: { user: "coffeetl-acme-prod-upload-leeds", policy: "{}" } }),
  ],
  [
    "IMDSv1",
    "ec2-imdsv2-required",
    () => mutate("aws:ec2/launchTemplate:LaunchTemplate", "grafana-template", (p) => (p.metadataOptions.httpTokens = "optional")),
  ],
  [
    "unencrypted root",
    "ec2-ebs-encrypted",
    () => mutate("aws:ec2/launchTemplate:LaunchTemplate", "grafana-template", (p) => (p.blockDeviceMappings[0].ebs.encrypted = "false")),
  ],
  ["key pair", "ec2-no-key-pair", () => mutate("aws:ec2/instance:Instance", "grafana", (p) => (p.keyName = "ops"))],
  [
    "world ingress",
    "ec2-no-world-ingress",
    () => mutate("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", "grafana-ingress-cloudfront", (p) => (p.cidrIpv4 = "0.0.0.0/0")),
  ],
  [
    "SSH",
    "ec2-no-ssh-rdp",
    () =>
      add({
        type: "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
        name: "grafana-ssh",
        id: "sgr-1",
        props: { securityGroupId: "sg-grafana-sg", ipProtocol: "tcp", fromPort: 22, toPort: 22, cidrIpv4: "203.0.113.0/24" },
      }),
  ],
  ["plain String secret", "secrets-in-secure-strings", () => mutate("aws:ssm/parameter:Parameter", "grafana-admin-password", (p) => (p.type = "String"))],
  [
    "password in user data",
    "no-secrets-in-user-data",
    () => {
      const password = declared.find((r) => r.name === "grafana-admin-password-value")!.props.result as string;
      return mutate("aws:ec2/instance:Instance", "grafana", (p) => (p.userData += `\necho ${password} > /tmp/p\n`));
    },
  ],
  [
    "inline password",
    "no-secrets-in-user-data",
    () => mutate("aws:ec2/instance:Instance", "grafana", (p) => (p.userData += "\nGF_SECURITY_ADMIN_PASSWORD=hunter2\n")),
  ],
  [
    "public warehouse",
    "redshift-not-public",
    () => add({ type: "aws:redshiftserverless/workgroup:Workgroup", name: "warehouse-workgroup", id: "wg", props: { publiclyAccessible: true } }),
  ],
];

for (const [label, rule, make] of cases) {
  test(`rule ${rule} catches: ${label}`, () => {
    assert.equal(rulesFired(make()), [rule]);
  });
}

test("every rule has a failing case above", () => {
  const covered = new Set(cases.map(([, rule]) => rule));
  assert.equal(
    policyRules()
      .map((r) => r.id)
      .filter((id) => !covered.has(id)),
    [],
  );
});

test.run();
