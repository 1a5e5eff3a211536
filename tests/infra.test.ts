// The Pulumi program under mocks, with a client's configuration: a parameter name, one CIDR, the
// client's existing Serverless workgroup and two branch uploaders; every other key at its default.
// Run alone: node --import tsx tests/infra.test.ts
import { COPY_MANIFEST_PREFIX, FAILURE_FILE, MANIFEST_FILE } from "../functions/core/manifest.js";
import { settle } from "./infra/harness.js";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { ACCOUNT, asList, runProgram, statementsOf, type Recorded } from "./infra/harness.js";

const PARAMETER = "/coffeetl/acme-prod/redshift";
const CIDR = "203.0.113.0/24";
const WORKGROUP_ARN = `arn:aws:redshift-serverless:eu-west-2:${ACCOUNT}:workgroup/11111111-2222-3333-4444-555555555555`;
const h = await runProgram(
  {
    redshiftParameterName: PARAMETER,
    grafanaAllowedCidrs: JSON.stringify([CIDR]),
    redshiftWorkgroupName: "analytics",
    uploaders: '["leeds","york"]',
    uploadDeadline: "10:00",
  },
  "acme-prod",
);

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
    for (const flag of ["blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"])
      assert.is(block[0]!.inputs[flag], true, `${bucket.name}.${flag}`);
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
  assert.not.ok(
    rawRules.some((r) => r.expiration?.days),
    "current raw objects never expire",
  );
  const tRules = forBucket("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", transformed)[0]!.inputs.rules as Record<string, any>[];
  assert.is(tRules.find((r) => r.id === "expire-objects")?.expiration.days, 30);
});

test("functions: runtime, architecture, bundle, environment, log groups, no reserved concurrency", () => {
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
  assert.is(et.inputs.environment.variables.TRANSACTION_ID_KEY_PARAMETER, "/coffeetl/acme-prod/transaction-secret");
  assert.is(et.inputs.environment.variables.UPLOADER_BRANCHES, "{}", "uploads are checked against their uploader's branches (its own name without a list)");
  assert.is(load.inputs.environment.variables.WAREHOUSE_PARAMETER_NAME, PARAMETER);
  assert.is(load.inputs.environment.variables.LOAD_MANIFESTS_PER_TRANSACTION, "100");
  assert.is(load.inputs.environment.variables.LOAD_POLL_MAX_MS, "1000");
  // Neither reserves concurrency (a reservation fails on a new account's limit of 10).
  assert.is(load.inputs.reservedConcurrentExecutions, -1);
  assert.is(et.inputs.reservedConcurrentExecutions, -1);
  assert.is(et.inputs.memorySize, 1024);
});

test("extract-transform role: read raw (versions), write transformed, read its secret; nothing else", () => {
  const s = policyOf("extract-transform");
  const raw = `arn:aws:s3:::${h.one(T.bucket, "raw").id}`;
  const transformed = `arn:aws:s3:::${h.one(T.bucket, "transformed").id}`;
  assert.equal(
    allowed(s, "s3:GetObjectVersion").map((x) => x.Resource),
    [`${raw}/*`],
  );
  assert.equal(
    allowed(s, "s3:PutObject").map((x) => x.Resource),
    [`${transformed}/*`],
  );
  assert.equal(allowed(s, "s3:ListBucket")[0]?.Resource, [raw, transformed]);
  assert.not.ok(
    allowed(s, "s3:PutObject").some((x) => String(x.Resource).startsWith(raw)),
    "raw files are never written",
  );
  assert.not.ok(
    s.some((x) => asList(x.Action).some((a: string) => /^s3:Delete/.test(a))),
    "nothing is deleted",
  );
  assert.equal(allowed(s, "ssm:GetParameter")[0]?.Resource, `arn:aws:ssm:eu-west-2:${ACCOUNT}:parameter/coffeetl/acme-prod/transaction-secret`);
  assert.equal(allowed(s, "kms:Decrypt")[0]?.Condition, { StringEquals: { "kms:ViaService": "ssm.eu-west-2.amazonaws.com" } });
  assert.equal(allowed(s, "sqs:SendMessage")[0]?.Resource, `arn:aws:sqs:eu-west-2:${ACCOUNT}:coffeetl-acme-prod-dlq`);
  assert.not.ok(
    s.some((x) => asList(x.Action).some((a: string) => a.startsWith("redshift"))),
    "no warehouse access",
  );
});

test("load role: read transformed, consume its queue, the one parameter, Data API and credentials on the one workgroup", () => {
  const s = policyOf("load");
  const transformed = `arn:aws:s3:::${h.one(T.bucket, "transformed").id}`;
  assert.equal(
    allowed(s, "s3:GetObject").map((x) => x.Resource),
    [`${transformed}/*`],
  );
  assert.equal(
    allowed(s, "s3:PutObject").map((x) => x.Resource),
    [`${transformed}/${COPY_MANIFEST_PREFIX}/*`],
    "only the COPY manifests' prefix",
  );
  assert.equal(allowed(s, "ssm:GetParameter")[0]?.Resource, `arn:aws:ssm:eu-west-2:${ACCOUNT}:parameter/coffeetl/acme-prod/redshift`);
  assert.equal(allowed(s, "sqs:ReceiveMessage")[0]?.Resource, `arn:aws:sqs:eu-west-2:${ACCOUNT}:coffeetl-acme-prod-load`);
  assert.equal(allowed(s, "sqs:ReceiveMessage")[0]?.Action, [
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibility",
    "sqs:GetQueueAttributes",
  ]);
  assert.is(allowed(s, "sqs:SendMessage").length, 0, "a queue consumer sends nothing: the queue parks failures");
  const run = allowed(s, "redshift-data:BatchExecuteStatement")[0]!;
  assert.equal(run.Resource, [WORKGROUP_ARN], "the configured workgroup (looked up), not every workgroup");
  assert.ok(h.invokes.some((i) => i.token === "aws:redshiftserverless/getWorkgroup:getWorkgroup" && i.args.workgroupName === "analytics"));
  assert.equal(allowed(s, "redshift-serverless:GetCredentials")[0]?.Resource, WORKGROUP_ARN);
  const describe = allowed(s, "redshift-data:DescribeStatement")[0]!;
  assert.is(describe.Resource, "*");
  assert.equal(describe.Condition, { StringEquals: { "redshift-data:statement-owner-iam-userid": "${aws:userid}" } });
  assert.is(allowed(s, "redshift:GetClusterCredentials").length, 0, "no cluster credentials for a workgroup");
  assert.is(allowed(s, "secretsmanager:GetSecretValue").length, 0, "no secrets");
  for (const x of s) {
    for (const r of asList<string>(x.Resource))
      if (/:(redshift|redshift-serverless|secretsmanager):/.test(r)) assert.not.ok(r.includes("*"), `${x.Sid}: ${r} has a wildcard`);
  }
});

test("no policy allows * or service:* (on anything), `*` resources only for resource-less actions, no FullAccess policy", () => {
  const docs = h.byType(T.rolePolicy);
  assert.ok(docs.length >= 4);
  for (const doc of docs) {
    for (const s of statementsOf(doc.inputs.policy).filter((x) => x.Effect === "Allow")) {
      for (const a of asList<string>(s.Action)) assert.not.ok(a === "*" || a.endsWith(":*"), `${doc.name}: ${a}`);
      if (asList(s.Resource).includes("*")) {
        for (const a of asList<string>(s.Action))
          assert.ok(
            /^(cloudwatch:(Get|List|Describe)|ec2:DescribeRegions|tag:GetResources|redshift-data:(DescribeStatement|GetStatementResult|CancelStatement)|ssmmessages:(Create|Open)(Control|Data)Channel$)/.test(
              a,
            ),
            `${doc.name}: ${a} on *`,
          );
      }
    }
  }
  const attachments = h.byType("aws:iam/rolePolicyAttachment:RolePolicyAttachment").map((a) => a.inputs.policyArn);
  assert.equal(attachments, [], "no managed policy (AmazonSSMManagedInstanceCore reads every parameter)");
  for (const role of h.byType(T.role)) assert.not.ok(role.inputs.managedPolicyArns, role.name);
});

test("raw → extract-transform: .csv in every case spelling, one rule each, after a scoped permission", () => {
  const bucket = h.one(T.bucket, "raw");
  const fn = h.one(T.fn, "extract-transform");
  const n = h.byType("aws:s3/bucketNotification:BucketNotification").find((x) => x.inputs.bucket === bucket.id)!;
  const rules = n.inputs.lambdaFunctions as Record<string, any>[];
  const suffixes = rules.map((r) => r.filterSuffix);
  assert.equal([...suffixes].sort(), [".CSV", ".CSv", ".CsV", ".Csv", ".cSV", ".cSv", ".csV", ".csv"]);
  for (const r of rules)
    assert.equal(
      [r.lambdaFunctionArn, r.events, r.filterPrefix],
      [`arn:aws:lambda:eu-west-2:${ACCOUNT}:function:${fn.inputs.name}`, ["s3:ObjectCreated:*"], undefined],
    );
  // S3 refuses overlapping rules for one event type: no suffix may end another.
  for (const a of suffixes) for (const b of suffixes) if (a !== b) assert.not.ok(a.endsWith(b), `${a} overlaps ${b}`);
  // What S3 would do with them (case-sensitive suffix match): every .csv spelling triggers, nothing else.
  const triggers = (key: string) => rules.some((r) => key.endsWith(r.filterSuffix));
  for (const key of ["uploads/leeds/LEEDS.CSV", "uploads/leeds/day.csv", "x/Day.Csv", "a.cSv"]) assert.ok(triggers(key), key);
  for (const key of ["uploads/leeds/notes.txt", "day.csv.gz", "day.xlsx", "csv"]) assert.not.ok(triggers(key), key);
  const permission = h.one("aws:lambda/permission:Permission", "raw-to-extract-transform-permission");
  assert.equal(
    {
      action: permission.inputs.action,
      function: permission.inputs.function,
      principal: permission.inputs.principal,
      sourceArn: permission.inputs.sourceArn,
      sourceAccount: permission.inputs.sourceAccount,
    },
    {
      action: "lambda:InvokeFunction",
      function: fn.inputs.name,
      principal: "s3.amazonaws.com",
      sourceArn: `arn:aws:s3:::${bucket.id}`,
      sourceAccount: ACCOUNT,
    },
  );
  assert.ok(n.dependsOn.includes("raw-to-extract-transform-permission"), "notification depends on the permission");
});

test("transformed → load queue: manifest.json and failed.json events to an encrypted, TLS-only queue only S3 of this bucket may send to", () => {
  const bucket = h.one(T.bucket, "transformed");
  const queue = h.one("aws:sqs/queue:Queue", "load-queue");
  const n = h.byType("aws:s3/bucketNotification:BucketNotification").find((x) => x.inputs.bucket === bucket.id)!;
  assert.not.ok(n.inputs.lambdaFunctions?.length, "the load is not invoked by S3 directly");
  // Manifests to load and transform failures to record (the load tells them apart), nothing else.
  assert.equal(n.inputs.queues, [
    { queueArn: queue.props.arn, events: ["s3:ObjectCreated:*"], filterSuffix: MANIFEST_FILE },
    { queueArn: queue.props.arn, events: ["s3:ObjectCreated:*"], filterSuffix: FAILURE_FILE },
  ]);
  const sent = (key: string) => (n.inputs.queues as { filterSuffix: string }[]).some((r) => key.endsWith(r.filterSuffix));
  for (const key of ["uploads/leeds/day/0123456789abcdef/manifest.json", "uploads/leeds/day/0123456789abcdef/failed.json"]) assert.ok(sent(key), key);
  for (const key of [
    "uploads/leeds/day/0123456789abcdef/transactions.csv",
    "uploads/leeds/day/0123456789abcdef/rejects.csv",
    "_load-batches/x/transactions.copy.json",
  ])
    assert.not.ok(sent(key), key);
  assert.ok(n.dependsOn.includes("load-queue-policy"), "S3 checks the queue policy when the notification is written");
  assert.is(h.byType("aws:lambda/permission:Permission").length, 1, "only the raw trigger invokes a function");
  assert.equal([queue.inputs.name, queue.inputs.sqsManagedSseEnabled], ["coffeetl-acme-prod-load", true]);
  const [deny, allow] = statementsOf(h.one("aws:sqs/queuePolicy:QueuePolicy", "load-queue-policy").inputs.policy);
  assert.equal([deny!.Effect, deny!.Principal, deny!.Action, deny!.Condition], ["Deny", "*", "sqs:*", { Bool: { "aws:SecureTransport": "false" } }]);
  assert.equal(
    [allow!.Effect, allow!.Principal, allow!.Action, allow!.Resource, allow!.Condition],
    [
      "Allow",
      { Service: "s3.amazonaws.com" },
      "sqs:SendMessage",
      queue.props.arn,
      { ArnEquals: { "aws:SourceArn": `arn:aws:s3:::${bucket.id}` }, StringEquals: { "aws:SourceAccount": ACCOUNT } },
    ],
  );
});

test("load queue: redrive to its own dead-letter queue after 3 receives; visibility six times the load timeout", () => {
  const queue = h.one("aws:sqs/queue:Queue", "load-queue");
  const dlq = h.one("aws:sqs/queue:Queue", "load-queue-dlq");
  assert.equal(JSON.parse(queue.inputs.redrivePolicy), { deadLetterTargetArn: dlq.props.arn, maxReceiveCount: 3 });
  assert.equal([dlq.inputs.name, dlq.inputs.sqsManagedSseEnabled, dlq.inputs.messageRetentionSeconds], ["coffeetl-acme-prod-load-dlq", true, 1209600]);
  assert.is(queue.inputs.messageRetentionSeconds, 4 * 86400);
  assert.ok(dlq.inputs.messageRetentionSeconds > queue.inputs.messageRetentionSeconds, "a parked message keeps its enqueue time: the DLQ keeps it longer");
  const timeout = h.one(T.fn, "load").inputs.timeout as number;
  assert.is(timeout, 600);
  assert.ok(queue.inputs.visibilityTimeoutSeconds >= 6 * timeout, `visibility ${queue.inputs.visibilityTimeoutSeconds} s`);
  const allowPolicy = h.one("aws:sqs/redriveAllowPolicy:RedriveAllowPolicy", "load-queue-redrive-allow");
  assert.is(allowPolicy.inputs.queueUrl, dlq.props.url);
  assert.equal(JSON.parse(allowPolicy.inputs.redriveAllowPolicy), { redrivePermission: "byQueue", sourceQueueArns: [queue.props.arn] });
  const dlqPolicy = statementsOf(h.one("aws:sqs/queuePolicy:QueuePolicy", "load-queue-dlq-policy").inputs.policy)[0]!;
  assert.equal([dlqPolicy.Effect, dlqPolicy.Condition], ["Deny", { Bool: { "aws:SecureTransport": "false" } }]);
});

test("load queue → load: batches with a window, partial batch failures, maximum concurrency, no async config", () => {
  const mapping = h.one("aws:lambda/eventSourceMapping:EventSourceMapping", "load-queue-to-load-mapping");
  const load = h.one(T.fn, "load");
  assert.equal(
    [
      mapping.inputs.eventSourceArn,
      mapping.inputs.functionName,
      mapping.inputs.batchSize,
      mapping.inputs.maximumBatchingWindowInSeconds,
      mapping.inputs.functionResponseTypes,
      mapping.inputs.scalingConfig,
    ],
    // A 1 s window: a lone file's manifest is not held 30 s for company (issue 23).
    [h.one("aws:sqs/queue:Queue", "load-queue").props.arn, load.props.arn, 100, 1, ["ReportBatchItemFailures"], { maximumConcurrency: 2 }],
  );
  assert.ok(mapping.dependsOn.includes("load-policy"), "Lambda checks the role's SQS permissions when the mapping is created");
  const configs = h.byType("aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig");
  assert.equal(
    configs.map((c) => c.inputs.functionName).sort(),
    ["coffeetl-acme-prod-extract-transform", "coffeetl-acme-prod-upload-check"],
    "the load is not invoked asynchronously",
  );
});

test("extract-transform failures: bounded retries, event age, the encrypted dead-letter queue", () => {
  const queue = h.one("aws:sqs/queue:Queue", "dead-letters");
  assert.is(queue.inputs.name, "coffeetl-acme-prod-dlq");
  assert.is(queue.inputs.sqsManagedSseEnabled, true);
  assert.is(queue.inputs.messageRetentionSeconds, 1209600);
  const c = h.one("aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig", "extract-transform-async");
  assert.equal(
    [c!.inputs.maximumRetryAttempts, c!.inputs.maximumEventAgeInSeconds, c!.inputs.destinationConfig.onFailure.destination],
    [2, 21600, queue.props.arn],
  );
  const queuePolicy = statementsOf(h.one("aws:sqs/queuePolicy:QueuePolicy", "dead-letters-policy").inputs.policy)[0]!;
  assert.equal([queuePolicy.Effect, queuePolicy.Condition], ["Deny", { Bool: { "aws:SecureTransport": "false" } }]);
});

test("alarms (defaults): errors and throttles of the functions, async event age, failed manifests, both DLQs, queue age, missing uploads: all to the topic", () => {
  const topic = h.one("aws:sns/topic:Topic", "alarms");
  assert.is(h.byType("aws:sns/topicSubscription:TopicSubscription").length, 0, "no e-mail configured: a topic to subscribe to, no subscription");
  const alarms = h.byType("aws:cloudwatch/metricAlarm:MetricAlarm");
  const summary = Object.fromEntries(
    alarms.map((a) => [a.name, [a.inputs.namespace, a.inputs.metricName, a.inputs.dimensions, a.inputs.comparisonOperator, a.inputs.threshold]]),
  );
  const fn = (name: string) => ({ FunctionName: `coffeetl-acme-prod-${name}` });
  assert.equal(summary, {
    "dead-letters-alarm": ["AWS/SQS", "ApproximateNumberOfMessagesVisible", { QueueName: "coffeetl-acme-prod-dlq" }, "GreaterThanThreshold", 0],
    "load-queue-dlq-alarm": ["AWS/SQS", "ApproximateNumberOfMessagesVisible", { QueueName: "coffeetl-acme-prod-load-dlq" }, "GreaterThanThreshold", 0],
    "load-queue-age-alarm": ["AWS/SQS", "ApproximateAgeOfOldestMessage", { QueueName: "coffeetl-acme-prod-load" }, "GreaterThanThreshold", 3600],
    "load-queue-failures-alarm": ["CoffeETL", "ManifestsFailed", { service: "coffeetl-acme-prod-load" }, "GreaterThanThreshold", 0],
    "extract-transform-errors-alarm": ["AWS/Lambda", "Errors", fn("extract-transform"), "GreaterThanThreshold", 0],
    "extract-transform-throttles-alarm": ["AWS/Lambda", "Throttles", fn("extract-transform"), "GreaterThanThreshold", 0],
    "extract-transform-event-age-alarm": ["AWS/Lambda", "AsyncEventAge", fn("extract-transform"), "GreaterThanThreshold", 1800],
    "load-errors-alarm": ["AWS/Lambda", "Errors", fn("load"), "GreaterThanThreshold", 0],
    "load-throttles-alarm": ["AWS/Lambda", "Throttles", fn("load"), "GreaterThanThreshold", 0],
    "load-reader-grants-alarm": ["CoffeETL", "ReaderTablesWithoutSelect", { service: "coffeetl-acme-prod-load" }, "GreaterThanThreshold", 0],
    "upload-check-function-errors-alarm": ["AWS/Lambda", "Errors", fn("upload-check"), "GreaterThanThreshold", 0],
    "upload-check-function-throttles-alarm": ["AWS/Lambda", "Throttles", fn("upload-check"), "GreaterThanThreshold", 0],
    "upload-check-alarm": ["CoffeETL", "BranchesWithoutUpload", { service: "coffeetl-acme-prod-upload-check" }, "GreaterThanThreshold", 0],
  });
  for (const a of alarms) {
    assert.equal([a.inputs.alarmActions, a.inputs.okActions ?? [topic.props.arn]], [[topic.props.arn], [topic.props.arn]], a.name);
    assert.is(a.inputs.treatMissingData, "notBreaching", a.name);
    assert.ok(String(a.inputs.alarmDescription).startsWith("CoffeETL: "), a.name);
  }
  assert.is(h.outputs.alarmTopicArn, topic.props.arn);
});

test("upload check: a time-zone-aware daily schedule at the deadline runs a function that may only list the uploads prefix", () => {
  const schedule = h.one("aws:scheduler/schedule:Schedule", "upload-check-schedule");
  const fn = h.one(T.fn, "upload-check-function");
  assert.equal(
    [schedule.inputs.scheduleExpression, schedule.inputs.scheduleExpressionTimezone, schedule.inputs.flexibleTimeWindow, schedule.inputs.target.arn],
    ["cron(0 10 * * ? *)", "Europe/London", { mode: "OFF" }, fn.props.arn],
  );
  const trust = statementsOf(h.one(T.role, "upload-check-scheduler-role").inputs.assumeRolePolicy)[0]!;
  assert.equal([trust.Principal, trust.Condition], [{ Service: "scheduler.amazonaws.com" }, { StringEquals: { "aws:SourceAccount": ACCOUNT } }]);
  assert.equal(
    statementsOf(h.one(T.rolePolicy, "upload-check-scheduler-policy").inputs.policy).map((x) => [x.Action, x.Resource]),
    [["lambda:InvokeFunction", fn.props.arn]],
  );
  assert.equal(fn.inputs.environment.variables.UPLOADERS, "leeds,york");
  const s = policyOf("upload-check-function");
  const raw = `arn:aws:s3:::${h.one(T.bucket, "raw").id}`;
  assert.equal(
    allowed(s, "s3:ListBucket").map((x) => [x.Resource, x.Condition]),
    [[raw, { StringLike: { "s3:prefix": "uploads/*" } }]],
  );
  assert.is(allowed(s, "s3:GetObject").length, 0, "cannot read a file");
});

test("upload identities: one user per branch in one group, PutObject under its own prefix only, secret in a SecureString", async () => {
  const raw = h.one(T.bucket, "raw");
  const group = h.one("aws:iam/group:Group", "uploads-group");
  assert.is(group.inputs.name, "coffeetl-acme-prod-uploaders");
  const [statement, ...more] = statementsOf(h.one("aws:iam/groupPolicy:GroupPolicy", "uploads-group-policy").inputs.policy);
  assert.is(more.length, 0);
  assert.equal(
    [statement!.Effect, statement!.Action, statement!.Resource],
    ["Allow", ["s3:PutObject", "s3:AbortMultipartUpload"], `arn:aws:s3:::${raw.id}/uploads/\${aws:PrincipalTag/coffeetl-uploader}/*`],
  );
  assert.not.ok(statement!.Condition);
  for (const name of ["leeds", "york"]) {
    const user = h.one("aws:iam/user:User", `uploads-${name}`);
    assert.equal([user.inputs.name, user.inputs.tags["coffeetl-uploader"]], [`coffeetl-acme-prod-upload-${name}`, name]);
    assert.not.ok(
      h.byType("aws:iam/userPolicy:UserPolicy").length || h.byType("aws:iam/userPolicyAttachment:UserPolicyAttachment").length,
      "no policy on a user",
    );
    assert.not.ok(h.byType("aws:iam/userLoginProfile:UserLoginProfile").length, "no console password");
    assert.equal(h.one("aws:iam/userGroupMembership:UserGroupMembership", `uploads-${name}-membership`).inputs, {
      user: user.inputs.name,
      groups: [group.inputs.name],
    });
    const key = h.one("aws:iam/accessKey:AccessKey", `uploads-${name}-key`);
    assert.is(key.inputs.user, user.inputs.name);
    const parameter = h.one("aws:ssm/parameter:Parameter", `uploads-${name}-credentials`);
    assert.equal([parameter.inputs.name, parameter.inputs.type], [`/coffeetl/acme-prod/uploaders/${name}`, "SecureString"]);
    assert.type(parameter.inputs.value, "object", "the value reaches the provider as a Pulumi secret");
    const value = JSON.parse(parameter.inputs.value.value);
    assert.equal(Object.keys(value), ["bucket", "prefix", "region", "accessKeyId", "secretAccessKey"]);
    assert.equal(
      [value.bucket, value.prefix, value.region, value.accessKeyId, value.secretAccessKey],
      [raw.id, `uploads/${name}/`, "eu-west-2", key.id, key.props.secret],
    );
    for (const [output, v] of Object.entries(h.outputs))
      assert.not.ok(JSON.stringify(v ?? "").includes(key.props.secret), `the secret key is in output ${output}`);
  }
  const outputs = h.outputs.uploadCredentialParameters as Record<string, unknown>;
  assert.equal(
    { leeds: await settle(outputs.leeds as never), york: await settle(outputs.york as never) },
    { leeds: "/coffeetl/acme-prod/uploaders/leeds", york: "/coffeetl/acme-prod/uploaders/york" },
  );
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
  assert.is(o.loadQueueUrl, `https://sqs.eu-west-2.amazonaws.com/${ACCOUNT}/coffeetl-acme-prod-load`);
  assert.is(o.loadDeadLetterQueueUrl, `https://sqs.eu-west-2.amazonaws.com/${ACCOUNT}/coffeetl-acme-prod-load-dlq`);
  assert.is(o.loadDeadLetterQueueArn, `arn:aws:sqs:eu-west-2:${ACCOUNT}:coffeetl-acme-prod-load-dlq`);
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
