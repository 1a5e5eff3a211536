// The Pulumi program under mocks, with a client's configuration: a parameter name and one CIDR.
// Run alone: node --import tsx tests/infra.test.ts
import { test } from "uvu";
import * as assert from "uvu/assert";
import { ACCOUNT, asList, runProgram, statementsOf, type Recorded } from "./infra/harness.js";

const PARAMETER = "/coffeetl/acme-prod/redshift";
const CIDR = "203.0.113.0/24";
const h = await runProgram({ redshiftParameterName: PARAMETER, grafanaAllowedCidrs: JSON.stringify([CIDR]) }, "acme-prod");

const T = {
  bucket: "aws:s3/bucket:Bucket",
  fn: "aws:lambda/function:Function",
  rolePolicy: "aws:iam/rolePolicy:RolePolicy",
  role: "aws:iam/role:Role",
};
const forBucket = (type: string, bucket: Recorded) => h.byType(type).filter((r) => r.inputs.bucket === bucket.id);
const policyOf = (name: string) => statementsOf(h.one(T.rolePolicy, `${name}-policy`).inputs.policy);
const allowed = (statements: Record<string, any>[], action: string) => statements.filter((s) => s.Effect === "Allow" && asList(s.Action).includes(action));

test("two data buckets (and the Grafana assets bucket), each private, encrypted and TLS-only", () => {
  const buckets = h.byType(T.bucket);
  assert.equal(buckets.map((b) => b.name).sort(), ["grafana-assets", "raw", "transformed"]);
  for (const bucket of buckets) {
    const block = forBucket("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", bucket);
    assert.is(block.length, 1, `${bucket.name}: public access block`);
    for (const flag of ["blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"]) assert.is(block[0]!.inputs[flag], true, `${bucket.name}.${flag}`);
    const ownership = forBucket("aws:s3/bucketOwnershipControls:BucketOwnershipControls", bucket);
    assert.is(ownership[0]?.inputs.rule.objectOwnership, "BucketOwnerEnforced");
    const sse = forBucket("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration", bucket);
    assert.is(sse[0]?.inputs.rules[0].applyServerSideEncryptionByDefault.sseAlgorithm, "AES256");
    const policy = forBucket("aws:s3/bucketPolicy:BucketPolicy", bucket);
    assert.is(policy.length, 1);
    const deny = statementsOf(policy[0]!.inputs.policy).find((s) => s.Effect === "Deny");
    assert.equal(deny?.Condition, { Bool: { "aws:SecureTransport": "false" } });
    assert.equal(deny?.Resource, [`arn:aws:s3:::${bucket.id}`, `arn:aws:s3:::${bucket.id}/*`]);
    assert.ok(policy[0]!.dependsOn.includes(`${bucket.name}-public-access`), "policy waits for the access block");
    assert.not.ok(bucket.inputs.acl, "no ACL");
  }
  const raw = h.one(T.bucket, "raw");
  assert.ok(raw.id.startsWith("coffeetl-acme-prod-raw-"));
  assert.is(raw.inputs.forceDestroy, false, "client data is not deleted by destroy unless configured");
});

test("raw is versioned with a lifecycle for old versions; transformed expires", () => {
  const raw = h.one(T.bucket, "raw");
  const transformed = h.one(T.bucket, "transformed");
  assert.is(forBucket("aws:s3/bucketVersioning:BucketVersioning", raw)[0]?.inputs.versioningConfiguration.status, "Enabled");
  assert.is(forBucket("aws:s3/bucketVersioning:BucketVersioning", transformed).length, 0);
  const rawRules = forBucket("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", raw)[0]!.inputs.rules as Record<string, any>[];
  assert.is(rawRules.find((r) => r.id === "expire-noncurrent-versions")?.noncurrentVersionExpiration.noncurrentDays, 90);
  assert.not.ok(rawRules.some((r) => r.expiration?.days), "current raw objects never expire");
  const tRules = forBucket("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", transformed)[0]!.inputs.rules as Record<string, any>[];
  assert.is(tRules.find((r) => r.id === "expire-objects")?.expiration.days, 30);
});

test("functions: runtime, architecture, bundle, environment, log groups, reserved concurrency", () => {
  const et = h.one(T.fn, "extract-transform");
  const load = h.one(T.fn, "load");
  for (const fn of [et, load]) {
    assert.is(fn.inputs.runtime, "nodejs22.x");
    assert.equal(fn.inputs.architectures, ["arm64"]);
    assert.is(fn.inputs.handler, "index.handler");
    assert.ok(fn.inputs.code?.__pulumiArchive, "code is an in-memory archive");
    assert.is(fn.inputs.environment.variables.LOG_LEVEL, "INFO");
    assert.is(fn.inputs.environment.variables.POWERTOOLS_SERVICE_NAME, fn.inputs.name);
    const group = h.one("aws:cloudwatch/logGroup:LogGroup", `${fn.name}-logs`);
    assert.is(fn.inputs.loggingConfig.logGroup, group.inputs.name);
    assert.is(group.inputs.retentionInDays, 30);
    assert.ok(fn.dependsOn.includes(`${fn.name}-logs`), "the log group exists before the function writes to it");
    assert.is(fn.parent, `coffeetl:pipeline:Function::${fn.name}`);
  }
  assert.is(et.inputs.name, "coffeetl-acme-prod-extract-transform");
  assert.is(et.inputs.environment.variables.TRANSFORMED_BUCKET, h.one(T.bucket, "transformed").id);
  assert.is(et.inputs.environment.variables.TRANSACTION_SECRET_PARAMETER, "/coffeetl/acme-prod/transaction-secret");
  assert.is(load.inputs.environment.variables.SSM_PARAMETER_NAME, PARAMETER);
  assert.is(load.inputs.reservedConcurrentExecutions, 2);
  assert.is(et.inputs.reservedConcurrentExecutions, -1);
  assert.is(et.inputs.memorySize, 1024);
});

test("extract-transform role: read raw (versions), write transformed, read its secret; nothing else", () => {
  const s = policyOf("extract-transform");
  const raw = `arn:aws:s3:::${h.one(T.bucket, "raw").id}`;
  const transformed = `arn:aws:s3:::${h.one(T.bucket, "transformed").id}`;
  assert.equal(allowed(s, "s3:GetObjectVersion").map((x) => x.Resource), [`${raw}/*`]);
  assert.equal(allowed(s, "s3:PutObject").map((x) => x.Resource), [`${transformed}/*`]);
  assert.equal(allowed(s, "s3:ListBucket")[0]?.Resource, [raw, transformed]);
  assert.not.ok(allowed(s, "s3:PutObject").some((x) => String(x.Resource).startsWith(raw)), "raw files are never written");
  assert.not.ok(s.some((x) => asList(x.Action).some((a: string) => /^s3:Delete/.test(a))), "nothing is deleted");
  assert.equal(allowed(s, "ssm:GetParameter")[0]?.Resource, `arn:aws:ssm:eu-west-2:${ACCOUNT}:parameter/coffeetl/acme-prod/transaction-secret`);
  assert.equal(allowed(s, "kms:Decrypt")[0]?.Condition, { StringEquals: { "kms:ViaService": "ssm.eu-west-2.amazonaws.com" } });
  assert.equal(allowed(s, "sqs:SendMessage")[0]?.Resource, `arn:aws:sqs:eu-west-2:${ACCOUNT}:coffeetl-acme-prod-dlq`);
  assert.not.ok(s.some((x) => asList(x.Action).some((a: string) => a.startsWith("redshift"))), "no warehouse access");
});

test("load role: read transformed and the one parameter, Data API and credentials scoped to the account", () => {
  const s = policyOf("load");
  const transformed = `arn:aws:s3:::${h.one(T.bucket, "transformed").id}`;
  assert.equal(allowed(s, "s3:GetObject").map((x) => x.Resource), [`${transformed}/*`]);
  assert.is(allowed(s, "s3:PutObject").length, 0);
  assert.equal(allowed(s, "ssm:GetParameter")[0]?.Resource, `arn:aws:ssm:eu-west-2:${ACCOUNT}:parameter/coffeetl/acme-prod/redshift`);
  const run = allowed(s, "redshift-data:BatchExecuteStatement")[0]!;
  assert.equal(run.Resource, [`arn:aws:redshift:eu-west-2:${ACCOUNT}:cluster:*`, `arn:aws:redshift-serverless:eu-west-2:${ACCOUNT}:workgroup/*`]);
  const describe = allowed(s, "redshift-data:DescribeStatement")[0]!;
  assert.is(describe.Resource, "*");
  assert.equal(describe.Condition, { StringEquals: { "redshift-data:statement-owner-iam-userid": "${aws:userid}" } });
  assert.equal(allowed(s, "redshift:GetClusterCredentials")[0]?.Resource, [
    `arn:aws:redshift:eu-west-2:${ACCOUNT}:dbuser:*/*`,
    `arn:aws:redshift:eu-west-2:${ACCOUNT}:dbname:*/*`,
  ]);
  const secret = allowed(s, "secretsmanager:GetSecretValue")[0]!;
  assert.ok(secret.Condition.StringLike["secretsmanager:ResourceTag/RedshiftDataFullAccess"], "only secrets tagged for the Data API");
});

test("no policy allows * or service:* (on anything), `*` resources only for resource-less actions, no FullAccess policy", () => {
  const docs = h.byType(T.rolePolicy);
  assert.ok(docs.length >= 4);
  for (const doc of docs) {
    for (const s of statementsOf(doc.inputs.policy).filter((x) => x.Effect === "Allow")) {
      for (const a of asList<string>(s.Action)) assert.not.ok(a === "*" || a.endsWith(":*"), `${doc.name}: ${a}`);
      if (asList(s.Resource).includes("*")) {
        for (const a of asList<string>(s.Action)) assert.ok(/^(cloudwatch:(Get|List|Describe)|ec2:DescribeRegions|tag:GetResources|redshift-data:(DescribeStatement|GetStatementResult|CancelStatement)|ssmmessages:(Create|Open)(Control|Data)Channel$)/.test(a), `${doc.name}: ${a} on *`);
      }
    }
  }
  const attachments = h.byType("aws:iam/rolePolicyAttachment:RolePolicyAttachment").map((a) => a.inputs.policyArn);
  assert.equal(attachments, [], "no managed policy (AmazonSSMManagedInstanceCore reads every parameter)");
  for (const role of h.byType(T.role)) assert.not.ok(role.inputs.managedPolicyArns, role.name);
});

test("notifications: .csv on raw, manifest.json on transformed, after scoped permissions", () => {
  const notifications = h.byType("aws:s3/bucketNotification:BucketNotification");
  assert.is(notifications.length, 2);
  const cases = [
    { bucket: "raw", fn: "extract-transform", suffix: ".csv", trigger: "raw-to-extract-transform" },
    { bucket: "transformed", fn: "load", suffix: "manifest.json", trigger: "transformed-to-load" },
  ];
  for (const c of cases) {
    const bucket = h.one(T.bucket, c.bucket);
    const fn = h.one(T.fn, c.fn);
    const n = notifications.find((x) => x.inputs.bucket === bucket.id)!;
    assert.ok(n, `notification on ${c.bucket}`);
    assert.is(n.inputs.lambdaFunctions.length, 1);
    assert.equal(n.inputs.lambdaFunctions[0], { lambdaFunctionArn: `arn:aws:lambda:eu-west-2:${ACCOUNT}:function:${fn.inputs.name}`, events: ["s3:ObjectCreated:*"], filterSuffix: c.suffix });
    const permission = h.one("aws:lambda/permission:Permission", `${c.trigger}-permission`);
    assert.equal(
      { action: permission.inputs.action, function: permission.inputs.function, principal: permission.inputs.principal, sourceArn: permission.inputs.sourceArn, sourceAccount: permission.inputs.sourceAccount },
      { action: "lambda:InvokeFunction", function: fn.inputs.name, principal: "s3.amazonaws.com", sourceArn: `arn:aws:s3:::${bucket.id}`, sourceAccount: ACCOUNT },
    );
    assert.ok(n.dependsOn.includes(`${c.trigger}-permission`), "notification depends on the permission");
  }
});

test("failures: bounded retries, event age, one encrypted dead-letter queue with an alarm", () => {
  const queue = h.one("aws:sqs/queue:Queue", "dead-letters");
  assert.is(queue.inputs.name, "coffeetl-acme-prod-dlq");
  assert.is(queue.inputs.sqsManagedSseEnabled, true);
  assert.is(queue.inputs.messageRetentionSeconds, 1209600);
  const configs = h.byType("aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig");
  assert.equal(configs.map((c) => c.inputs.functionName).sort(), ["coffeetl-acme-prod-extract-transform", "coffeetl-acme-prod-load"]);
  for (const c of configs) {
    assert.is(c.inputs.maximumRetryAttempts, 2);
    assert.is(c.inputs.maximumEventAgeInSeconds, 21600);
    assert.is(c.inputs.destinationConfig.onFailure.destination, queue.props.arn);
  }
  const alarm = h.one("aws:cloudwatch/metricAlarm:MetricAlarm", "dead-letters-alarm");
  assert.equal(
    [alarm.inputs.namespace, alarm.inputs.metricName, alarm.inputs.dimensions, alarm.inputs.threshold, alarm.inputs.comparisonOperator],
    ["AWS/SQS", "ApproximateNumberOfMessagesVisible", { QueueName: "coffeetl-acme-prod-dlq" }, 0, "GreaterThanThreshold"],
  );
  assert.equal(alarm.inputs.alarmActions, [], "no e-mail configured, no topic");
  assert.is(h.byType("aws:sns/topic:Topic").length, 0);
  const queuePolicy = statementsOf(h.one("aws:sqs/queuePolicy:QueuePolicy", "dead-letters-policy").inputs.policy)[0]!;
  assert.equal([queuePolicy.Effect, queuePolicy.Condition], ["Deny", { Bool: { "aws:SecureTransport": "false" } }]);
});

test("secrets: random values in SecureStrings, secret in Pulumi, never in user data", () => {
  for (const name of ["transaction-secret", "grafana-admin-password"]) {
    const parameter = h.one("aws:ssm/parameter:Parameter", name);
    const generated = h.one("random:index/randomPassword:RandomPassword", `${name}-value`);
    assert.is(parameter.inputs.type, "SecureString");
    const value = parameter.inputs.value;
    assert.type(value, "object", "the value reaches the provider as a Pulumi secret");
    assert.is(value.value, generated.props.result);
    assert.is(generated.inputs.special, false);
  }
  const password = h.one("random:index/randomPassword:RandomPassword", "grafana-admin-password-value").props.result as string;
  const userData = h.one("aws:ec2/instance:Instance", "grafana").inputs.userData as string;
  assert.not.ok(userData.includes(password), "the password is not in user data");
  assert.not.match(userData, /GF_SECURITY_ADMIN_PASSWORD=/);
  for (const [key, value] of Object.entries(h.outputs)) assert.not.ok(String(value).includes(password), `output ${key}`);
});

test("stack outputs", () => {
  const o = h.outputs;
  assert.is(o.rawBucketName, h.one(T.bucket, "raw").id);
  assert.is(o.transformedBucketName, h.one(T.bucket, "transformed").id);
  assert.is(o.transformedBucketArn, `arn:aws:s3:::${h.one(T.bucket, "transformed").id}`);
  assert.is(o.grafanaUrl, "https://d111111abcdef8.cloudfront.net", "CloudFront's default certificate (tests/infra-grafana.test.ts)");
  assert.is(o.grafanaAdminPasswordParameter, "/coffeetl/acme-prod/grafana-admin-password");
  assert.is(o.deadLetterQueueUrl, `https://sqs.eu-west-2.amazonaws.com/${ACCOUNT}/coffeetl-acme-prod-dlq`);
  assert.is(o.loadFunctionName, "coffeetl-acme-prod-load");
  assert.is(o.warehouseWorkgroupName, undefined);
});

test("every resource is inside a component; components follow the naming convention", () => {
  const components = h.resources.filter((r) => r.type.startsWith("coffeetl:"));
  assert.ok(components.length >= 10);
  for (const r of h.resources) {
    if (r.type === "pulumi:pulumi:Stack" || r.type.startsWith("coffeetl:")) continue;
    assert.ok(r.parent?.startsWith("coffeetl:"), `${r.type}::${r.name} has a component parent`);
    const parentName = r.parent!.split("::")[1]!;
    assert.ok(r.name === parentName || r.name.startsWith(`${parentName}-`), `${r.name} is prefixed by ${parentName}`);
  }
});

test.run();
