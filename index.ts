// CoffeETL on AWS: one Pulumi stack per client and stage (`Pulumi.<client>-<stage>.yaml`).
// Everything is in infra/; this file only reads the stack's configuration and exports the outputs.
import { loadConfig } from "./infra/config.js";
import { createStack } from "./infra/stack.js";

const stack = createStack(loadConfig());

export const rawBucketName = stack.rawBucketName;
export const rawBucketArn = stack.rawBucketArn;
export const transformedBucketName = stack.transformedBucketName;
export const transformedBucketArn = stack.transformedBucketArn;
export const grafanaUrl = stack.grafanaUrl;
export const grafanaViewerPasswordParameters = stack.grafanaViewerPasswordParameters;
export const grafanaAdminPasswordParameter = stack.grafanaAdminPasswordParameter;
export const grafanaAssetsBucketName = stack.grafanaAssetsBucketName;
export const grafanaInstanceId = stack.grafanaInstanceId;
export const deadLetterQueueUrl = stack.deadLetterQueueUrl;
export const deadLetterQueueArn = stack.deadLetterQueueArn;
export const loadQueueUrl = stack.loadQueueUrl;
export const loadQueueArn = stack.loadQueueArn;
export const loadDeadLetterQueueUrl = stack.loadDeadLetterQueueUrl;
export const loadDeadLetterQueueArn = stack.loadDeadLetterQueueArn;
export const uploadCredentialParameters = stack.uploadCredentialParameters;
export const extractTransformFunctionName = stack.extractTransformFunctionName;
export const loadFunctionName = stack.loadFunctionName;
export const transactionIdKeyParameter = stack.transactionIdKeyParameter;
export const warehouseParameterName = stack.warehouseParameterName;
export const warehouseWorkgroupName = stack.warehouseWorkgroupName;
export const copyRoleArn = stack.copyRoleArn;
export const alarmTopicArn = stack.alarmTopicArn;
