// S3 event records → bucket and object key, decoded as S3 sends them (form-encoded: `+` is a space).
import type { S3Event, S3EventRecord } from "aws-lambda";
import type { Log } from "../app/log.js";
import { errorFields } from "./logger.js";

export interface S3ObjectEvent {
  eventName: string;
  bucket: string;
  /** The decoded object key, exactly as stored in S3. */
  key: string;
  /** The key as it arrived in the event, for logs when decoding fails. */
  rawKey: string;
  versionId?: string;
  /** S3's `sequencer`: orders the PUTs of one key (core/version-order.ts); kept through the manifest to the load. */
  sequencer?: string;
}

/** `uploads/leeds+2024%2Bv2/file.csv` → `uploads/leeds 2024+v2/file.csv`. Throws on malformed escapes. */
export function decodeS3Key(key: string): string {
  return decodeURIComponent(key.replace(/\+/g, " "));
}

export function objectEvent(record: S3EventRecord): S3ObjectEvent {
  const rawKey = record.s3?.object?.key ?? "";
  const event: S3ObjectEvent = {
    eventName: record.eventName ?? "",
    bucket: record.s3?.bucket?.name ?? "",
    key: decodeS3Key(rawKey),
    rawKey,
  };
  if (record.s3?.object?.versionId) event.versionId = record.s3.object.versionId;
  if (record.s3?.object?.sequencer) event.sequencer = record.s3.object.sequencer;
  return event;
}

export const isObjectCreated = (eventName: string): boolean => eventName.startsWith("ObjectCreated:");

export const recordsOf = (event: S3Event | undefined): S3EventRecord[] => (Array.isArray(event?.Records) ? event.Records : []);

/** One error for a batch of failed records, so Lambda retries the event and then parks it in the DLQ. */
export class RecordsFailedError extends Error {
  constructor(
    readonly failures: { key: string; error: Error }[],
    total: number,
  ) {
    super(`${failures.length} of ${total} record(s) failed: ` + failures.map((f) => `${f.key}: ${f.error.name}: ${f.error.message}`).join("; "));
    this.name = "RecordsFailedError";
  }
}

export interface CreatedObjectHandler<R> {
  log: Log;
  /** Why a created object is not for this handler (logged, not an error), or undefined to handle it. */
  skipReason(key: string): string | undefined;
  handle(object: S3ObjectEvent): Promise<R>;
  /** True for errors `handle` has logged itself. */
  alreadyLogged?(error: Error): boolean;
}

/**
 * Runs `handle` for every ObjectCreated record of an event that is for this handler. Every record
 * is attempted; if any failed, one RecordsFailedError is thrown at the end, so Lambda retries the
 * event and then parks it in the on-failure destination.
 */
export async function forEachCreatedObject<R>(event: S3Event, handler: CreatedObjectHandler<R>): Promise<{ results: R[]; skipped: number }> {
  const { log } = handler;
  const records = recordsOf(event);
  const results: R[] = [];
  const failures: { key: string; error: Error }[] = [];
  let skipped = 0;
  for (const record of records) {
    let object: S3ObjectEvent;
    try {
      object = objectEvent(record);
    } catch (error) {
      log.error("undecodable object key", { rawKey: record.s3?.object?.key, ...errorFields(error) });
      failures.push({ key: String(record.s3?.object?.key), error: error as Error });
      continue;
    }
    const { bucket, key, eventName } = object;
    const reason = isObjectCreated(eventName) ? handler.skipReason(key) : "not an ObjectCreated event";
    if (reason) {
      skipped++;
      log.info("skipped", { bucket, key, eventName, reason });
      continue;
    }
    try {
      results.push(await handler.handle(object));
    } catch (error) {
      const e = error instanceof Error ? error : new Error(String(error));
      failures.push({ key, error: e });
      if (!handler.alreadyLogged?.(e)) log.error("failed", { bucket, key, ...errorFields(e) });
    }
  }
  log.info("event done", { records: records.length, handled: results.length, skipped, failed: failures.length });
  if (failures.length) throw new RecordsFailedError(failures, records.length);
  return { results, skipped };
}

// ---- S3 events delivered through SQS (the load queue) -------------------------------------------

/** What one SQS message of the load queue holds. */
export type QueuedS3Message =
  | { kind: "objects"; objects: S3ObjectEvent[]; skipped: { key: string; eventName: string; reason: string }[] }
  /** `s3:TestEvent`: S3 sends one when the notification is created. Nothing to do. */
  | { kind: "test" };

/**
 * Parses an SQS message body written by S3: `{"Records":[...]}` (one or more records) or S3's test
 * event. Records that are not ObjectCreated, or whose key `wanted` refuses, are returned as skipped.
 * Throws on a body that is not an S3 event (it is retried, then parked in the dead-letter queue).
 */
export function parseQueuedS3Message(body: string, wanted: (key: string) => string | undefined): QueuedS3Message {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    throw new Error("message body is not JSON (expected an S3 event notification)");
  }
  const v = value as { Event?: unknown; Records?: unknown };
  if (v && typeof v === "object" && v.Event === "s3:TestEvent") return { kind: "test" };
  if (!v || typeof v !== "object" || !Array.isArray(v.Records)) throw new Error("message body is not an S3 event notification (no Records)");
  const objects: S3ObjectEvent[] = [];
  const skipped: { key: string; eventName: string; reason: string }[] = [];
  for (const record of v.Records as S3EventRecord[]) {
    const object = objectEvent(record); // throws on an undecodable key
    const reason = isObjectCreated(object.eventName) ? wanted(object.key) : "not an ObjectCreated event";
    if (reason) skipped.push({ key: object.key, eventName: object.eventName, reason });
    else objects.push(object);
  }
  return { kind: "objects", objects, skipped };
}
