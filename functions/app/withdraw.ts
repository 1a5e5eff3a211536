// Application service: the version of a raw key that withdraws it (issue 19 item 2, `coffeetl forget`):
// the file's header alone, transformed like any upload. Loaded, it supersedes the key's current version
// with no sales (outcome `withdrawn`); on AWS, writing its manifest to the transformed bucket is what
// sends it to the load. The raw bucket is never touched.
import { Readable } from "node:stream";
import type { Storage, StoredObject } from "./ports.js";
import { transformObject, type TransformDeps, type TransformedOutcome } from "./transform-object.js";

/** What a branch uploads to retract a day: the header row and nothing else. */
export const WITHDRAWAL = "Timestamp,Location,Customer Name,Items Ordered,Total Amount,Payment Method,Card Number\n";

/** A one-object raw store holding the withdrawal version of `key`. */
class WithdrawalSource implements Storage {
  readonly name = "coffeetl-withdrawal";
  constructor(private readonly key: string) {}
  async get(key: string): Promise<StoredObject> {
    if (key !== this.key) throw new Error(`no object ${key}`);
    return { body: Readable.from([Buffer.from(WITHDRAWAL)]), size: Buffer.byteLength(WITHDRAWAL) };
  }
  async put(): Promise<void> {
    throw new Error("the withdrawal source is read-only");
  }
  async exists(key: string): Promise<boolean> {
    return key === this.key;
  }
  async *list(): AsyncIterable<string> {
    yield this.key;
  }
  uri(key: string): string {
    return `${this.name}:${key}`;
  }
}

/**
 * Writes the withdrawal of `key` under the transformed store; returns its manifest key. It carries no
 * version order: a withdrawal is never "older" than the load it withdraws, and any later upload of
 * the file is never older than it, so that upload loads again.
 */
export async function writeWithdrawal(deps: Omit<TransformDeps, "raw">, key: string): Promise<string> {
  return (await transformWithdrawal(deps, key)).manifestKey;
}

/** The same, with the transform's outcome: `skipped` when this withdrawal was written before (nothing rewritten). */
export async function transformWithdrawal(deps: Omit<TransformDeps, "raw">, key: string): Promise<TransformedOutcome> {
  const outcome = await transformObject({ ...deps, raw: new WithdrawalSource(key) }, key);
  // Only a key that was loaded is withdrawn, so it was never refused; a refused one says why.
  if (outcome.status === "refused") throw new Error(`${outcome.failure.source.key}: ${outcome.failure.reason}`);
  return outcome;
}
