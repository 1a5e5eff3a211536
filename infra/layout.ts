// The physical names and queue settings of one stack, from its configuration: what stack.ts builds
// with, and what the moto suites (tests/fixtures/aws/moto.ts) create, so both read the same values.
import { FAILURE_FILE, MANIFEST_FILE } from "../functions/core/manifest.js";
import { caseInsensitiveSuffixes } from "./bucket-trigger.js";
import { slug, type CoffeetlConfig } from "./config.js";

/** Dead-letter queues keep a message 14 days (the SQS maximum). */
export const DEAD_LETTER_RETENTION_SECONDS = 14 * 24 * 3600;
/** Shorter than the dead-letter queue's: a parked message keeps its first enqueue time. */
export const LOAD_QUEUE_RETENTION_SECONDS = 4 * 24 * 3600;
/** A message is invisible while a batch holding it loads; six timeouts cover Lambda's retries of a throttled invocation. */
export const loadQueueVisibilitySeconds = (consumerTimeoutSeconds: number): number => 6 * consumerTimeoutSeconds;

export interface StackLayout {
  rawBucketPrefix: string;
  transformedBucketPrefix: string;
  deadLetterQueueName: string;
  loadQueueName: string;
  loadDeadLetterQueueName: string;
  loadQueueVisibilitySeconds: number;
  maxReceives: number;
  extractTransformFunctionName: string;
  loadFunctionName: string;
  /** Raw-bucket keys that invoke the extract-transform function (S3 suffix filters). */
  rawTriggerSuffixes: string[];
  /** Transformed-bucket keys sent to the load queue. */
  transformedTriggerSuffixes: string[];
  transactionIdKeyParameter: string;
  grafanaAdminPasswordParameter: string;
  uploaderParameter(name: string): string;
}

export function stackLayout(config: CoffeetlConfig): StackLayout {
  const stack = config.stack;
  const loadQueueName = `coffeetl-${stack}-load`;
  return {
    rawBucketPrefix: `coffeetl-${slug(stack, 15)}-raw-`,
    transformedBucketPrefix: `coffeetl-${slug(stack, 15)}-transformed-`,
    deadLetterQueueName: `coffeetl-${stack}-dlq`,
    loadQueueName,
    loadDeadLetterQueueName: `${loadQueueName}-dlq`,
    loadQueueVisibilitySeconds: loadQueueVisibilitySeconds(config.load.timeoutSeconds),
    maxReceives: config.loadQueue.maxReceives,
    extractTransformFunctionName: `coffeetl-${stack}-extract-transform`,
    loadFunctionName: `coffeetl-${stack}-load`,
    rawTriggerSuffixes: caseInsensitiveSuffixes(".csv"),
    transformedTriggerSuffixes: [MANIFEST_FILE, FAILURE_FILE],
    // The path of deployed stacks: a new path would be a new parameter with a new key.
    transactionIdKeyParameter: `${config.parameterPrefix}/transaction-secret`,
    grafanaAdminPasswordParameter: `${config.parameterPrefix}/grafana-admin-password`,
    uploaderParameter: (name) => `${config.parameterPrefix}/uploaders/${name}`,
  };
}
