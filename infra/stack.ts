// The whole deployment of one client and stage, from its validated configuration (docs/design.md §2 and §11):
//
//   branches (upload identities) ──► raw bucket ──(.csv, any case)──► extract-transform ──► transformed bucket
//   transformed ──(manifest.json, failed.json)──► load queue ──(batches)──► load ──► Redshift
//   extract-transform failures, after retries ──► dead-letter queue; load failures ──► load dead-letter queue
//   alarms (errors, throttles, event and queue age, dead letters, warehouse capacity) ──► alarm topic
//   Grafana host ◄── grafana/ via its assets bucket; reads Redshift (Data API) and CloudWatch
import type * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { COPY_MANIFEST_PREFIX } from "../functions/core/manifest.js";
import { WRITER_ROLE } from "../functions/warehouse/roles.js";
import { slug, type CoffeetlConfig } from "./config.js";
import { AlarmTopic } from "./alarm-topic.js";
import { BucketTrigger } from "./bucket-trigger.js";
import { DeadLetterQueue } from "./dead-letter-queue.js";
import { PipelineFunction, type FunctionAlarmSettings } from "./function.js";
import { Grafana } from "./grafana.js";
import { grafanaWarehouseStatements } from "./grafana-access.js";
import { lookupAwsContext, parameterArn, ssmDecryptStatement, type AwsContext } from "./iam.js";
import { stackLayout, type StackLayout } from "./layout.js";
import { LoadQueue } from "./load-queue.js";
import { metricAlarm } from "./metric-alarm.js";
import { Network } from "./network.js";
import { QueueTrigger } from "./queue-trigger.js";
import { UploadCheck } from "./upload-check.js";
import { UploadIdentities } from "./upload-identities.js";
import { SecretParameter } from "./secret-parameter.js";
import { SecureBucket } from "./secure-bucket.js";
import { ServerlessWarehouse } from "./warehouse.js";
import { createWarehouseRoles } from "./warehouse-roles.js";
import { lookupWorkgroupArn, warehouseAccessStatements, type WarehouseTarget } from "./warehouse-access.js";

/** Where the load writes its COPY manifests (the same constant as the warehouse's; a test checks it). */

export interface StackOutputs {
  rawBucketName: pulumi.Output<string>;
  rawBucketArn: pulumi.Output<string>;
  transformedBucketName: pulumi.Output<string>;
  /** For a client-managed warehouse: grant the COPY role s3:GetObject and s3:ListBucket on it. */
  transformedBucketArn: pulumi.Output<string>;
  grafanaUrl: pulumi.Output<string>;
  /** One SecureString per coffeetl:grafanaViewers login (its generated password). */
  grafanaViewerPasswordParameters: pulumi.Output<string[]>;
  grafanaAdminPasswordParameter: pulumi.Output<string>;
  grafanaAssetsBucketName: pulumi.Output<string>;
  grafanaInstanceId: pulumi.Output<string>;
  /** Extract-transform failures (Lambda async invocation records). */
  deadLetterQueueUrl: pulumi.Output<string>;
  deadLetterQueueArn: pulumi.Output<string>;
  /** The manifests queue the load function reads, and where failing manifests are parked. */
  loadQueueUrl: pulumi.Output<string>;
  loadQueueArn: pulumi.Output<string>;
  loadDeadLetterQueueUrl: pulumi.Output<string>;
  loadDeadLetterQueueArn: pulumi.Output<string>;
  /** SSM parameter per uploader (docs/uploads.md). */
  uploadCredentialParameters: Record<string, pulumi.Output<string>>;
  extractTransformFunctionName: pulumi.Output<string>;
  loadFunctionName: pulumi.Output<string>;
  transactionIdKeyParameter: pulumi.Output<string>;
  warehouseParameterName: string;
  /** Only with `coffeetl:warehouse: serverless`. */
  warehouseWorkgroupName?: pulumi.Output<string>;
  copyRoleArn?: pulumi.Output<string>;
  alarmTopicArn: pulumi.Output<string>;
}

/** What every part of the stack is built from. */
interface StackBasis {
  config: CoffeetlConfig;
  ctx: AwsContext;
  stack: string;
  tags: Record<string, string>;
  layout: StackLayout;
}

export function createStack(config: CoffeetlConfig, context: AwsContext = lookupAwsContext()): StackOutputs {
  const basis: StackBasis = { config, ctx: context, stack: config.stack, tags: { "coffeetl:stack": config.stack }, layout: stackLayout(config) };
  // Declared in this order (the data path first, Grafana last).
  const buckets = createBuckets(basis);
  const alerting = createAlerting(basis, buckets);
  const secrets = createSecrets(basis);
  const warehouse = createWarehouse(basis, alerting, buckets);
  const functions = createFunctions(basis, buckets, alerting, secrets, warehouse);
  createReaderGrantsAlarm(basis, alerting, functions.load);
  wirePipeline(basis, buckets, alerting, functions, warehouse);
  const uploads = createUploads(basis, buckets);
  createUploadCheck(basis, buckets, alerting);
  const grafana = createGrafana(basis, secrets, warehouse);
  return stackOutputs(basis, { buckets, alerting, secrets, warehouse, functions, uploads, grafana });
}

interface Buckets {
  raw: SecureBucket;
  transformed: SecureBucket;
}

/** Storage: raw uploads (versioned), transformed files (expiring). */
function createBuckets({ config, layout, tags }: StackBasis): Buckets {
  const raw = new SecureBucket("raw", {
    bucketPrefix: layout.rawBucketPrefix,
    versioned: true,
    noncurrentVersionExpirationDays: config.rawNoncurrentVersionExpirationDays,
    forceDestroy: config.forceDestroy,
    tags,
  });
  const transformed = new SecureBucket("transformed", {
    bucketPrefix: layout.transformedBucketPrefix,
    versioned: false,
    expirationDays: config.transformedExpirationDays,
    forceDestroy: config.forceDestroy,
    tags,
  });
  return { raw, transformed };
}

interface Alerting {
  alarms: AlarmTopic;
  deadLetters: DeadLetterQueue;
  loadQueue: LoadQueue;
  functionAlarms: FunctionAlarmSettings;
}

/** Failures and alerts: the alarm topic, the extract-transform's dead letters, the load queue with its own. */
function createAlerting({ config, ctx, layout, tags }: StackBasis, { transformed }: Buckets): Alerting {
  // The topic exists without an e-mail too: other subscribers (chat, paging) can be added to it.
  const alarms = new AlarmTopic("alarms", { email: config.alarmEmail, tags });
  const deadLetters = new DeadLetterQueue("dead-letters", {
    queueName: layout.deadLetterQueueName,
    meaning: "raw files failed to transform after every retry; each message holds its S3 event",
    alarmTopicArn: alarms.arn,
    alarmThreshold: config.alarms.deadLetterMessages,
    tags,
  });
  const loadQueue = new LoadQueue("load-queue", {
    queueName: layout.loadQueueName,
    deadLetterQueueName: layout.loadDeadLetterQueueName,
    sourceBucketArn: transformed.arn,
    accountId: ctx.accountId,
    consumerTimeoutSeconds: config.load.timeoutSeconds,
    maxReceives: config.loadQueue.maxReceives,
    alarmTopicArn: alarms.arn,
    oldestMessageAlarmSeconds: config.alarms.queueAgeSeconds,
    deadLetterAlarmThreshold: config.alarms.deadLetterMessages,
    consumerServiceName: layout.loadFunctionName,
    failedManifestsAlarmThreshold: config.alarms.lambdaErrors,
    tags,
  });
  const functionAlarms = {
    topicArn: alarms.arn,
    errors: config.alarms.lambdaErrors,
    throttles: config.alarms.lambdaThrottles,
    asyncEventAgeSeconds: config.alarms.asyncEventAgeSeconds,
  };
  return { alarms, deadLetters, loadQueue, functionAlarms };
}

interface Secrets {
  transactionIdKey: SecretParameter;
  grafanaPassword: SecretParameter;
}

function createSecrets({ config, layout, tags }: StackBasis): Secrets {
  // The logical name keeps its old word: renaming it would replace the parameter, and a new key changes every sale id.
  const transactionIdKey = new SecretParameter("transaction-secret", {
    parameterName: layout.transactionIdKeyParameter,
    description: "CoffeETL transaction-id HMAC key (changing it changes every transaction id)",
    length: 64,
    value: config.transactionSecret,
    tags,
  });
  const grafanaPassword = new SecretParameter("grafana-admin-password", {
    parameterName: layout.grafanaAdminPasswordParameter,
    description: "CoffeETL Grafana admin password (user admin)",
    length: 32,
    tags,
  });
  return { transactionIdKey, grafanaPassword };
}

interface Warehouse {
  network: Network;
  /** Only with `coffeetl:warehouse: serverless`. */
  created?: ServerlessWarehouse;
  /** The created warehouse's database roles (none for the client's own). */
  roles: aws.redshiftdata.Statement[];
  target: WarehouseTarget;
}

/** Network and (optionally) the warehouse. */
function createWarehouse({ config, ctx, stack, tags }: StackBasis, { alarms }: Alerting, { transformed }: Buckets): Warehouse {
  const network = new Network("network", {
    context: ctx,
    vpcId: config.network.vpcId,
    subnetId: config.network.subnetId,
    logRetentionDays: config.logRetentionDays,
    tags,
  });
  const warehouse =
    config.warehouse === "serverless"
      ? new ServerlessWarehouse("warehouse", {
          warehouseName: `coffeetl-${slug(stack, 50)}`,
          database: config.serverless.database,
          adminUsername: config.serverless.adminUsername,
          baseCapacity: config.serverless.baseCapacity,
          maxCapacity: config.serverless.maxCapacity,
          usageLimit: config.serverless.usageLimit,
          logRetentionDays: config.logRetentionDays,
          alarmTopicArn: alarms.arn,
          // Its own subnets (and a closed security group in that VPC) when the stack built the network;
          // the configured subnets (with coffeetl:vpcId) otherwise; else the account's default VPC.
          subnetIds: config.serverless.subnetIds ?? network.warehouseSubnetIds,
          vpcId: config.serverless.subnetIds ? config.network.vpcId : network.warehouseSubnetIds ? network.vpcId : undefined,
          transformedBucketArn: transformed.arn,
          parameterName: config.redshiftParameterName,
          protect: config.serverless.protect,
          tags,
        })
      : undefined;
  // Its database roles (reader, writer), created as the namespace's admin by statements safe to re-run.
  const warehouseRoles = warehouse
    ? createWarehouseRoles("warehouse-roles", {
        workgroupName: warehouse.workgroupName,
        database: config.serverless.database,
        adminSecretArn: warehouse.namespace.adminPasswordSecretArn,
      })
    : [];
  const target: WarehouseTarget = {
    workgroupArn: warehouse?.workgroupArn ?? (config.redshift.workgroupName ? lookupWorkgroupArn(config.redshift.workgroupName) : undefined),
    managed: warehouse !== undefined,
    scope: config.redshift,
  };
  return { network, created: warehouse, roles: warehouseRoles, target };
}

interface Functions {
  extractTransform: PipelineFunction;
  load: PipelineFunction;
}

/** The two pipeline functions: raw file -> transformed files and manifest; queued manifests -> warehouse. */
function createFunctions(basis: StackBasis, buckets: Buckets, alerting: Alerting, secrets: Secrets, warehouse: Warehouse): Functions {
  return { extractTransform: createExtractTransform(basis, buckets, alerting, secrets), load: createLoad(basis, buckets, alerting, warehouse) };
}

/** What both functions share: context, logs, alarms, tags. */
function functionSettings({ config, ctx, tags }: StackBasis, { functionAlarms }: Alerting) {
  return { context: ctx, logRetentionDays: config.logRetentionDays, logLevel: config.logLevel, alarms: functionAlarms, tags };
}

function createExtractTransform(basis: StackBasis, { raw, transformed }: Buckets, alerting: Alerting, { transactionIdKey }: Secrets): PipelineFunction {
  const { config, ctx, layout } = basis;
  return new PipelineFunction("extract-transform", {
    ...functionSettings(basis, alerting),
    async: { maxRetryAttempts: config.maxRetryAttempts, maxEventAgeSeconds: config.maxEventAgeSeconds, deadLetterQueue: alerting.deadLetters },
    functionName: layout.extractTransformFunctionName,
    description: "CoffeETL: raw branch CSV -> cleaned, normalised table files and manifest",
    entry: "functions/extract-transform/handler.ts",
    environment: {
      TRANSFORMED_BUCKET: transformed.name,
      TRANSACTION_ID_KEY_PARAMETER: transactionIdKey.name,
      // Rows of a file under uploads/<name>/ must be for that uploader's branches (functions/core/branches.ts).
      UPLOADER_BRANCHES: JSON.stringify(config.uploaderBranches),
    },
    statements: [
      { Sid: "ReadRawObjects", Effect: "Allow", Action: ["s3:GetObject", "s3:GetObjectVersion"], Resource: pulumi.interpolate`${raw.arn}/*` },
      // ListBucket makes a missing key a 404 rather than a 403.
      { Sid: "ListBuckets", Effect: "Allow", Action: "s3:ListBucket", Resource: [raw.arn, transformed.arn] },
      {
        Sid: "WriteTransformedObjects",
        Effect: "Allow",
        Action: ["s3:PutObject", "s3:GetObject", "s3:AbortMultipartUpload"],
        Resource: pulumi.interpolate`${transformed.arn}/*`,
      },
      { Sid: "ReadTransactionIdKey", Effect: "Allow", Action: "ssm:GetParameter", Resource: transactionIdKey.arn },
      ssmDecryptStatement(ctx),
    ],
    memoryMb: config.extractTransform.memoryMb,
    timeoutSeconds: config.extractTransform.timeoutSeconds,
    reservedConcurrency: config.extractTransform.reservedConcurrency,
  });
}

function createLoad(basis: StackBasis, { transformed }: Buckets, alerting: Alerting, { target }: Warehouse): PipelineFunction {
  const { config, ctx, layout } = basis;
  return new PipelineFunction("load", {
    ...functionSettings(basis, alerting),
    functionName: layout.loadFunctionName,
    description: "CoffeETL: queued manifests -> Redshift, a batch per transaction (COPY manifest, staging, insert new)",
    entry: "functions/load/handler.ts",
    environment: {
      WAREHOUSE_PARAMETER_NAME: config.redshiftParameterName,
      LOAD_MANIFESTS_PER_TRANSACTION: String(config.loadQueue.manifestsPerTransaction),
      LOAD_POLL_MAX_MS: String(config.loadQueue.pollMaxMs),
    },
    statements: [
      {
        Sid: "ConsumeManifestQueue",
        Effect: "Allow",
        Action: ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes"],
        Resource: alerting.loadQueue.arn,
      },
      // The COPY manifests listing a batch's files.
      { Sid: "WriteCopyManifests", Effect: "Allow", Action: "s3:PutObject", Resource: pulumi.interpolate`${transformed.arn}/${COPY_MANIFEST_PREFIX}/*` },
      { Sid: "ReadTransformedObjects", Effect: "Allow", Action: "s3:GetObject", Resource: pulumi.interpolate`${transformed.arn}/*` },
      { Sid: "ListTransformedBucket", Effect: "Allow", Action: "s3:ListBucket", Resource: transformed.arn },
      { Sid: "ReadWarehouseConnection", Effect: "Allow", Action: "ssm:GetParameter", Resource: parameterArn(ctx, config.redshiftParameterName) },
      ssmDecryptStatement(ctx),
      ...warehouseAccessStatements(ctx, target, "load"),
    ],
    // On Serverless its IAMR database user holds coffeetl_writer: a replaced role keeps the loader's rights.
    roleTags: { RedshiftDbRoles: WRITER_ROLE },
    memoryMb: config.load.memoryMb,
    timeoutSeconds: config.load.timeoutSeconds,
    // Unreserved unless configured: the queue mapping's maximum concurrency bounds parallel loads.
    reservedConcurrency: config.load.reservedConcurrency,
  });
}

/**
 * Grafana's reader lacking SELECT on a CoffeETL table: the load function checks after its schema step
 * and publishes the count (functions/load/handler.ts) while it is not 0.
 */
function createReaderGrantsAlarm({ stack, tags }: StackBasis, { alarms }: Alerting, load: PipelineFunction): void {
  metricAlarm(
    "load-reader-grants-alarm",
    {
      description: `CoffeETL: Grafana's reader role may not SELECT some CoffeETL tables, so dashboards fail with "permission denied". The load function's log (/aws/lambda/coffeetl-${stack}-load) names them with the GRANT an administrator runs once; coffeetl status says the same.`,
      namespace: "CoffeETL",
      metricName: "ReaderTablesWithoutSelect",
      dimensions: { service: `coffeetl-${stack}-load` },
      statistic: "Maximum",
      threshold: 0,
    },
    { topicArn: alarms.arn, tags },
    { parent: load },
  );
}

/** Wiring: raw bucket -> extract-transform, transformed bucket -> load queue -> load. */
function wirePipeline(
  { config, ctx, layout }: StackBasis,
  { raw, transformed }: Buckets,
  { loadQueue }: Alerting,
  { extractTransform, load }: Functions,
  { roles: warehouseRoles }: Warehouse,
): void {
  new BucketTrigger("raw-to-extract-transform", {
    bucket: { id: raw.bucket.id, arn: raw.arn },
    target: { function: extractTransform.function },
    filterSuffixes: layout.rawTriggerSuffixes,
    accountId: ctx.accountId,
    dependsOn: raw.ready,
  });
  new BucketTrigger("transformed-to-load-queue", {
    bucket: { id: transformed.bucket.id, arn: transformed.arn },
    target: { queueArn: loadQueue.arn },
    // A manifest to load, or a transform failure to record in file_outcomes (functions/load/handler.ts;
    // MANIFEST_FILE and FAILURE_FILE of functions/core/manifest.ts, a test checks).
    filterSuffixes: layout.transformedTriggerSuffixes,
    accountId: ctx.accountId,
    dependsOn: [...transformed.ready, loadQueue.policy],
  });
  new QueueTrigger("load-queue-to-load", {
    queueArn: loadQueue.arn,
    function: load.function,
    batchSize: config.loadQueue.batchSize,
    batchingWindowSeconds: config.loadQueue.batchingWindowSeconds,
    maxConcurrency: config.loadQueue.maxConcurrency,
    // No load signs in before its database role exists (RedshiftDbRoles maps existing roles only).
    dependsOn: [load.rolePolicy, ...warehouseRoles],
  });
}

/** Branch uploads: one identity per uploader, writing only under its own prefix. */
function createUploads({ config, ctx, stack, tags }: StackBasis, { raw }: Buckets): UploadIdentities {
  return new UploadIdentities("uploads", {
    namePrefix: `coffeetl-${stack}`,
    uploaders: config.uploaders,
    rawBucketName: raw.name,
    rawBucketArn: raw.arn,
    region: ctx.region,
    parameterPrefix: config.parameterPrefix,
    tags,
  });
}

/** The daily "every uploader sent a file" check, when coffeetl:uploadDeadline is set. */
function createUploadCheck({ config, ctx, stack, tags }: StackBasis, { raw }: Buckets, { alarms, deadLetters, functionAlarms }: Alerting): void {
  if (!config.uploadCheck) return;
  new UploadCheck("upload-check", {
    functionName: `coffeetl-${stack}-upload-check`,
    context: ctx,
    rawBucketName: raw.name,
    rawBucketArn: raw.arn,
    uploaders: config.uploaders,
    deadline: config.uploadCheck.deadline,
    timeZone: config.uploadCheck.timeZone,
    alarmTopicArn: alarms.arn,
    functionAlarms,
    deadLetterQueue: deadLetters,
    logRetentionDays: config.logRetentionDays,
    logLevel: config.logLevel,
    tags,
  });
}

/** Dashboards: the Grafana host, after the created warehouse and its roles. */
function createGrafana({ config, ctx, stack, tags }: StackBasis, { grafanaPassword }: Secrets, { network, created, roles, target }: Warehouse): Grafana {
  return new Grafana(
    "grafana",
    {
      context: ctx,
      stack,
      vpcId: network.vpcId,
      subnetId: network.hostSubnetId,
      ...config.grafana,
      parameterPrefix: config.parameterPrefix,
      adminPasswordParameter: grafanaPassword,
      warehouseParameterName: config.redshiftParameterName,
      warehouseStatements: grafanaWarehouseStatements(ctx, target, config.grafana.readerDbUser),
      tags,
    },
    created ? { dependsOn: [created, ...roles] } : undefined,
  );
}

function stackOutputs(
  { config }: StackBasis,
  parts: { buckets: Buckets; alerting: Alerting; secrets: Secrets; warehouse: Warehouse; functions: Functions; uploads: UploadIdentities; grafana: Grafana },
): StackOutputs {
  const { buckets, alerting, secrets, warehouse, functions, uploads, grafana } = parts;
  return {
    rawBucketName: buckets.raw.name,
    rawBucketArn: buckets.raw.arn,
    transformedBucketName: buckets.transformed.name,
    transformedBucketArn: buckets.transformed.arn,
    grafanaUrl: grafana.url,
    grafanaViewerPasswordParameters: pulumi.all(grafana.viewers.accounts.map((a) => a.passwordParameter)),
    grafanaAdminPasswordParameter: secrets.grafanaPassword.name,
    grafanaAssetsBucketName: grafana.assets.name,
    grafanaInstanceId: grafana.instance.id,
    deadLetterQueueUrl: alerting.deadLetters.url,
    deadLetterQueueArn: alerting.deadLetters.arn,
    loadQueueUrl: alerting.loadQueue.url,
    loadQueueArn: alerting.loadQueue.arn,
    loadDeadLetterQueueUrl: alerting.loadQueue.deadLetters.url,
    loadDeadLetterQueueArn: alerting.loadQueue.deadLetters.arn,
    uploadCredentialParameters: uploads.parameterNames,
    extractTransformFunctionName: functions.extractTransform.name,
    loadFunctionName: functions.load.name,
    transactionIdKeyParameter: secrets.transactionIdKey.name,
    warehouseParameterName: config.redshiftParameterName,
    warehouseWorkgroupName: warehouse.created?.workgroupName,
    copyRoleArn: warehouse.created?.copyRole.arn,
    alarmTopicArn: alerting.alarms.arn,
  };
}
