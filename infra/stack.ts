// The whole deployment of one client and stage, from its validated configuration (DESIGN.md 1 and 7):
//
//   raw bucket ──(.csv)──► extract-transform ──► transformed bucket ──(manifest.json)──► load ──► Redshift
//        failures of either, after retries ──► dead-letter queue ──► alarm (──► e-mail)
//   Grafana host ◄── grafana/ via its assets bucket; reads Redshift (Data API) and CloudWatch
import * as pulumi from "@pulumi/pulumi";
import { slug, type CoffeetlConfig } from "./config.js";
import { AlarmTopic } from "./alarm-topic.js";
import { BucketTrigger } from "./bucket-trigger.js";
import { DeadLetterQueue } from "./dead-letter-queue.js";
import { PipelineFunction } from "./function.js";
import { Grafana } from "./grafana.js";
import { grafanaWarehouseStatements } from "./grafana-access.js";
import { lookupAwsContext, parameterArn, ssmDecryptStatement, type AwsContext } from "./iam.js";
import { Network } from "./network.js";
import { SecretParameter } from "./secret-parameter.js";
import { SecureBucket } from "./secure-bucket.js";
import { ServerlessWarehouse } from "./warehouse.js";
import { lookupWorkgroupArn, warehouseAccessStatements, type WarehouseTarget } from "./warehouse-access.js";

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
  deadLetterQueueUrl: pulumi.Output<string>;
  deadLetterQueueArn: pulumi.Output<string>;
  extractTransformFunctionName: pulumi.Output<string>;
  loadFunctionName: pulumi.Output<string>;
  transactionSecretParameter: pulumi.Output<string>;
  warehouseParameterName: string;
  /** Only with `coffeetl:warehouse: serverless`. */
  warehouseWorkgroupName?: pulumi.Output<string>;
  copyRoleArn?: pulumi.Output<string>;
  alarmTopicArn?: pulumi.Output<string>;
}

export function createStack(config: CoffeetlConfig, context: AwsContext = lookupAwsContext()): StackOutputs {
  const ctx = context;
  const stack = config.stack;
  const tags = { "coffeetl:stack": stack };

  // Storage.
  const raw = new SecureBucket("raw", {
    bucketPrefix: `coffeetl-${slug(stack, 15)}-raw-`,
    versioned: true,
    noncurrentVersionExpirationDays: config.rawNoncurrentVersionExpirationDays,
    forceDestroy: config.forceDestroy,
    tags,
  });
  const transformed = new SecureBucket("transformed", {
    bucketPrefix: `coffeetl-${slug(stack, 15)}-transformed-`,
    versioned: false,
    expirationDays: config.transformedExpirationDays,
    forceDestroy: config.forceDestroy,
    tags,
  });

  // Failures and alerts.
  const alarms = config.alarmEmail ? new AlarmTopic("alarms", { email: config.alarmEmail, tags }) : undefined;
  const deadLetters = new DeadLetterQueue("dead-letters", { queueName: `coffeetl-${stack}-dlq`, alarmTopicArn: alarms?.arn, tags });

  // Secrets.
  const transactionSecret = new SecretParameter("transaction-secret", {
    parameterName: `${config.parameterPrefix}/transaction-secret`,
    description: "CoffeETL transaction-id HMAC key (changing it changes every transaction id)",
    length: 64,
    value: config.transactionSecret,
    tags,
  });
  const grafanaPassword = new SecretParameter("grafana-admin-password", {
    parameterName: `${config.parameterPrefix}/grafana-admin-password`,
    description: "CoffeETL Grafana admin password (user admin)",
    length: 32,
    tags,
  });

  // Network and (optionally) the warehouse.
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
          // Its own subnets (and a closed security group in that VPC) when the stack built the network;
          // the configured subnets (with coffeetl:vpcId) otherwise; else the account's default VPC.
          subnetIds: config.serverless.subnetIds ?? network.warehouseSubnetIds,
          vpcId: config.serverless.subnetIds ? config.network.vpcId : network.warehouseSubnetIds ? network.vpcId : undefined,
          transformedBucketArn: transformed.arn,
          parameterName: config.redshiftParameterName,
          tags,
        })
      : undefined;
  const target: WarehouseTarget = {
    workgroupArn: warehouse?.workgroupArn ?? (config.redshift.workgroupName ? lookupWorkgroupArn(config.redshift.workgroupName) : undefined),
    managed: warehouse !== undefined,
    scope: config.redshift,
  };
  const warehouseParameterArn = parameterArn(ctx, config.redshiftParameterName);

  // Functions.
  const asyncSettings = {
    context: ctx,
    logRetentionDays: config.logRetentionDays,
    logLevel: config.logLevel,
    maxRetryAttempts: config.maxRetryAttempts,
    maxEventAgeSeconds: config.maxEventAgeSeconds,
    deadLetterQueue: deadLetters,
    tags,
  };
  const extractTransform = new PipelineFunction("extract-transform", {
    ...asyncSettings,
    functionName: `coffeetl-${stack}-extract-transform`,
    description: "CoffeETL: raw branch CSV -> cleaned, normalised table files and manifest",
    entry: "functions/extract-transform/handler.ts",
    environment: { TRANSFORMED_BUCKET: transformed.name, TRANSACTION_SECRET_PARAMETER: transactionSecret.name },
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
      { Sid: "ReadTransactionSecret", Effect: "Allow", Action: "ssm:GetParameter", Resource: transactionSecret.arn },
      ssmDecryptStatement(ctx),
    ],
    memoryMb: config.extractTransform.memoryMb,
    timeoutSeconds: config.extractTransform.timeoutSeconds,
    reservedConcurrency: config.extractTransform.reservedConcurrency,
  });
  const load = new PipelineFunction("load", {
    ...asyncSettings,
    functionName: `coffeetl-${stack}-load`,
    description: "CoffeETL: manifest -> Redshift (COPY, staging, MERGE in one transaction)",
    entry: "functions/load/handler.ts",
    environment: { SSM_PARAMETER_NAME: config.redshiftParameterName },
    statements: [
      { Sid: "ReadTransformedObjects", Effect: "Allow", Action: "s3:GetObject", Resource: pulumi.interpolate`${transformed.arn}/*` },
      { Sid: "ListTransformedBucket", Effect: "Allow", Action: "s3:ListBucket", Resource: transformed.arn },
      { Sid: "ReadWarehouseConnection", Effect: "Allow", Action: "ssm:GetParameter", Resource: warehouseParameterArn },
      ssmDecryptStatement(ctx),
      ...warehouseAccessStatements(ctx, target, "load"),
    ],
    memoryMb: config.load.memoryMb,
    timeoutSeconds: config.load.timeoutSeconds,
    // Few concurrent loads: Redshift serialisable isolation makes parallel MERGEs conflict.
    reservedConcurrency: config.load.reservedConcurrency,
  });

  // Wiring.
  new BucketTrigger("raw-to-extract-transform", {
    bucket: { id: raw.bucket.id, arn: raw.arn },
    function: extractTransform.function,
    filterSuffix: ".csv",
    accountId: ctx.accountId,
    dependsOn: raw.ready,
  });
  new BucketTrigger("transformed-to-load", {
    bucket: { id: transformed.bucket.id, arn: transformed.arn },
    function: load.function,
    filterSuffix: "manifest.json",
    accountId: ctx.accountId,
    dependsOn: transformed.ready,
  });

  // Dashboards.
  const grafana = new Grafana("grafana", {
    context: ctx,
    stack,
    vpcId: network.vpcId,
    subnetId: network.hostSubnetId,
    ...config.grafana,
    parameterPrefix: config.parameterPrefix,
    adminPasswordParameter: grafanaPassword,
    warehouseParameterName: config.redshiftParameterName,
    warehouseStatements: grafanaWarehouseStatements(ctx, target, config.grafana.readerDbUser),
    readerBootstrap: warehouse
      ? { workgroupName: warehouse.workgroupName, database: config.serverless.database, adminSecretArn: warehouse.namespace.adminPasswordSecretArn }
      : undefined,
    tags,
  }, warehouse ? { dependsOn: [warehouse] } : undefined);

  return {
    rawBucketName: raw.name,
    rawBucketArn: raw.arn,
    transformedBucketName: transformed.name,
    transformedBucketArn: transformed.arn,
    grafanaUrl: grafana.url,
    grafanaViewerPasswordParameters: pulumi.all(grafana.viewers.accounts.map((a) => a.passwordParameter)),
    grafanaAdminPasswordParameter: grafanaPassword.name,
    grafanaAssetsBucketName: grafana.assets.name,
    grafanaInstanceId: grafana.instance.id,
    deadLetterQueueUrl: deadLetters.url,
    deadLetterQueueArn: deadLetters.arn,
    extractTransformFunctionName: extractTransform.name,
    loadFunctionName: load.name,
    transactionSecretParameter: transactionSecret.name,
    warehouseParameterName: config.redshiftParameterName,
    warehouseWorkgroupName: warehouse?.workgroupName,
    copyRoleArn: warehouse?.copyRole.arn,
    alarmTopicArn: alarms?.arn,
  };
}
