// S3 event records → bucket and object key, decoded as S3 sends them (form-encoded: `+` is a space).
import type { S3Event, S3EventRecord } from "aws-lambda";

export interface S3ObjectEvent {
  eventName: string;
  bucket: string;
  /** The decoded object key, exactly as stored in S3. */
  key: string;
  /** The key as it arrived in the event, for logs when decoding fails. */
  rawKey: string;
  versionId?: string;
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
  return event;
}

export const isObjectCreated = (eventName: string): boolean => eventName.startsWith("ObjectCreated:");

export const recordsOf = (event: S3Event | undefined): S3EventRecord[] => (Array.isArray(event?.Records) ? event.Records : []);

/** One error for a batch of failed records, so Lambda retries the event and then parks it in the DLQ. */
export class RecordsFailedError extends Error {
  constructor(readonly failures: { key: string; error: Error }[], total: number) {
    super(
      `${failures.length} of ${total} record(s) failed: ` +
        failures.map((f) => `${f.key}: ${f.error.name}: ${f.error.message}`).join("; "),
    );
    this.name = "RecordsFailedError";
  }
}
