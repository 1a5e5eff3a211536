// Structured JSON logs (Powertools for AWS Lambda) behind the Log port. Service name and level come from
// POWERTOOLS_SERVICE_NAME and LOG_LEVEL. Callers log keys, counts and durations: never a row, name or card.
import { Logger } from "@aws-lambda-powertools/logger";
import type { Context } from "aws-lambda";
import type { Log } from "../app/log.js";

export function createLogger(defaultServiceName: string): Logger {
  return new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME || defaultServiceName });
}

/** The Log port over a Powertools logger. */
export function logPort(logger: Logger): Log {
  return {
    info: (message, extra) => logger.info(message, extra ?? {}),
    warn: (message, extra) => logger.warn(message, extra ?? {}),
    error: (message, extra) => logger.error(message, extra ?? {}),
  };
}

/** Per invocation: request id and function details on every line, and no keys left from the last one. */
export function startInvocation(logger: Logger, context: Context | undefined): void {
  logger.resetKeys();
  if (context && typeof context.awsRequestId === "string") logger.addContext(context);
}

/** An error as log fields: name and message only (our messages carry keys and reasons, never row content). */
export const errorFields = (error: unknown): { errorName: string; errorMessage: string } => {
  const e = error instanceof Error ? error : new Error(String(error));
  return { errorName: e.name, errorMessage: e.message };
};
