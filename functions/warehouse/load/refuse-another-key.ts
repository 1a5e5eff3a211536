// Refuse another key (docs/design.md §7.2). Keeps: a warehouse's sales are keyed with one
// transaction-id key, so a sale never gets a second id. When `warehouse_identity` holds another
// fingerprint, every file of the batch is marked `other_key` (with the fingerprint held): every
// later step acts only on `loaded` files, so the batch writes nothing, and its result rows carry
// the refusal (result.ts turns them into a KeyMismatchError). The first load records its key.
import type { Batch } from "./batch.js";

export function refuseAnotherKey(b: Batch): string[] {
  return [
    `UPDATE stage_files SET outcome = 'other_key', held_key = w.key_fingerprint
FROM warehouse_identity w WHERE w.key_fingerprint <> ${b.fingerprint}`,
    `INSERT INTO warehouse_identity (key_fingerprint, created_at)
SELECT ${b.fingerprint}, ${b.loadedAt} FROM (SELECT COUNT(*) AS n FROM warehouse_identity) c WHERE c.n = 0`,
  ];
}
