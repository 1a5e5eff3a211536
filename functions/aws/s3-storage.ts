// The Storage port over one S3 bucket: streamed reads, streamed (multipart) server-side-encrypted writes.
import { Readable } from "node:stream";
import { GetObjectCommand, HeadBucketCommand, HeadObjectCommand, paginateListObjectsV2, type S3Client, type ServerSideEncryption } from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import type { Storage, StoredObject } from "../app/ports.js";

export interface S3StorageOptions {
  /** Server-side encryption of every object written: `AES256` (SSE-S3, the default) or `aws:kms`. */
  serverSideEncryption?: "AES256" | "aws:kms";
  /** KMS key for `aws:kms`; the bucket's default KMS key when omitted. */
  kmsKeyId?: string;
  /** Multipart part size in bytes (S3 minimum and default: 5 MiB). */
  partSize?: number;
  /**
   * Parts uploaded concurrently per object (default 1). Each part in flight is a buffer of `partSize`
   * bytes, plus one being filled, and a transform writes five objects at once (two of them large):
   * measured on 1M sales, queueSize 2 costs ~15 MB more peak RSS than 1, for no gain at the transform's
   * output rate (~12 MB/s against a 5 MiB part PUT well under a second).
   */
  queueSize?: number;
}

const MIN_PART_SIZE = 5 * 1024 * 1024;

/** S3 "not found" for HeadObject/GetObject: the SDK names it `NotFound` (no body) or `NoSuchKey`. A missing bucket is not this. */
export function isNotFound(error: unknown): boolean {
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number } };
  return !isNoSuchBucket(error) && (e?.name === "NotFound" || e?.name === "NoSuchKey" || e?.$metadata?.httpStatusCode === 404);
}

export const isNoSuchBucket = (error: unknown): boolean => (error as { name?: string })?.name === "NoSuchBucket";

/** A missing bucket named as such (a wrong bucket name or a deleted bucket, never "no such object"). */
export class NoSuchBucketError extends Error {
  constructor(bucket: string, options?: ErrorOptions) {
    super(`s3://${bucket}: no such bucket (check the bucket name; was it deleted?)`, options);
    this.name = "NoSuchBucketError";
  }
}

function asReadable(body: unknown, where: string): Readable {
  if (body instanceof Readable) return body;
  if (body && typeof (body as ReadableStream).getReader === "function") return Readable.fromWeb(body as import("node:stream/web").ReadableStream);
  throw new Error(`${where}: GetObject returned no readable body`);
}

export class S3Storage implements Storage {
  readonly name: string;
  private readonly sse: ServerSideEncryption;
  private readonly kmsKeyId: string | undefined;
  private readonly partSize: number;
  private readonly queueSize: number;
  private bucketChecked: Promise<void> | undefined;

  constructor(
    private readonly client: S3Client,
    bucket: string,
    options: S3StorageOptions = {},
  ) {
    if (!bucket) throw new Error("S3Storage: bucket name is empty");
    this.name = bucket;
    this.sse = options.serverSideEncryption ?? "AES256";
    if (this.sse !== "AES256" && this.sse !== "aws:kms") throw new Error(`S3Storage: unsupported server-side encryption ${JSON.stringify(this.sse)}`);
    if (options.kmsKeyId && this.sse !== "aws:kms") throw new Error("S3Storage: kmsKeyId needs serverSideEncryption aws:kms");
    this.kmsKeyId = options.kmsKeyId;
    this.partSize = Math.max(options.partSize ?? MIN_PART_SIZE, MIN_PART_SIZE);
    this.queueSize = Math.max(options.queueSize ?? 1, 1);
  }

  async get(key: string, options: { versionId?: string } = {}): Promise<StoredObject> {
    const where = this.uri(key) + (options.versionId ? ` (version ${options.versionId})` : "");
    let response;
    try {
      response = await this.client.send(new GetObjectCommand({ Bucket: this.name, Key: key, ...(options.versionId ? { VersionId: options.versionId } : {}) }));
    } catch (error) {
      if (isNoSuchBucket(error)) throw new NoSuchBucketError(this.name, { cause: error });
      if (isNotFound(error)) throw new Error(`${where}: no such object`, { cause: error });
      throw error;
    }
    const object: StoredObject = { body: asReadable(response.Body, where), size: response.ContentLength ?? 0 };
    if (response.VersionId && response.VersionId !== "null") object.versionId = response.VersionId;
    return object;
  }

  async put(key: string, body: Readable | string | Uint8Array, options: { contentType?: string } = {}): Promise<void> {
    const upload = new Upload({
      client: this.client,
      params: {
        Bucket: this.name,
        Key: key,
        Body: body,
        ServerSideEncryption: this.sse,
        ...(this.kmsKeyId ? { SSEKMSKeyId: this.kmsKeyId } : {}),
        ...(options.contentType ? { ContentType: options.contentType } : {}),
      },
      partSize: this.partSize,
      queueSize: this.queueSize,
      leavePartsOnError: false,
    });
    try {
      await upload.done();
    } catch (error) {
      // A failed source stream must not leave the upload (or the caller's other uploads) hanging.
      if (body instanceof Readable) body.destroy();
      if (isNoSuchBucket(error)) throw new NoSuchBucketError(this.name, { cause: error });
      throw error;
    }
  }

  async exists(key: string): Promise<boolean> {
    try {
      await this.client.send(new HeadObjectCommand({ Bucket: this.name, Key: key }));
      return true;
    } catch (error) {
      // Without s3:ListBucket, S3 answers 403 for a missing key: that stays an error, never "absent".
      if (!isNotFound(error)) throw error;
      // HeadObject's 404 has no body, so a missing bucket looks like a missing key: ask the bucket
      // (once per instance; only 404 means it is gone, a 403 still proves it exists).
      this.bucketChecked ??= Promise.resolve(this.client.send(new HeadBucketCommand({ Bucket: this.name }))).then(
        () => undefined,
        (e: unknown) => {
          const status = (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
          if (isNoSuchBucket(e) || status === 404) throw new NoSuchBucketError(this.name, { cause: e });
        },
      );
      await this.bucketChecked;
      return false;
    }
  }

  async *list(prefix: string): AsyncIterable<string> {
    try {
      for await (const page of paginateListObjectsV2({ client: this.client }, { Bucket: this.name, Prefix: prefix })) {
        for (const object of page.Contents ?? []) if (object.Key !== undefined) yield object.Key;
      }
    } catch (error) {
      if (isNoSuchBucket(error)) throw new NoSuchBucketError(this.name, { cause: error });
      throw error;
    }
  }

  uri(key: string): string {
    return `s3://${this.name}/${key}`;
  }
}
