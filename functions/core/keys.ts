// The transaction-id key (the HMAC key that keys sale ids, sale-identity.ts): how strong it must
// be, and the fingerprint that lets manifests and the warehouse refuse sales keyed with another.
import { createHash } from "node:crypto";

/**
 * Fingerprint of a transaction-id key, recorded in manifests and by the warehouse so that loads
 * keyed with another key are refused: `sha256("coffeetl-key-fingerprint:" + key)`, 16 hex chars.
 * It reveals nothing usable about the key.
 */
export const keyFingerprint = (key: string | Buffer): string => createHash("sha256").update("coffeetl-key-fingerprint:").update(key).digest("hex").slice(0, 16);

/** The least a transaction-id key may hold, however it is given (variable, key file, SSM, made by a home). */
export const MIN_KEY_CHARS = 16;

/** Why a transaction-id key is too weak to key sales with, or undefined when it is strong enough. */
export function keyWeakness(key: string): string | undefined {
  return key.length < MIN_KEY_CHARS
    ? `holds ${key.length} character${key.length === 1 ? "" : "s"}; a transaction-id key needs at least ${MIN_KEY_CHARS}`
    : undefined;
}
