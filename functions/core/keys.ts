// Deterministic keys (DESIGN section 3), so any file can be processed alone and in any order.
import { createHash, createHmac } from "node:crypto";
import type { Item, RawSale } from "./records.js";

const SEP = "\u001f";
const hash128 = (text: string) => createHash("sha256").update(text).digest("hex").slice(0, 32);

export const branchId = (branchName: string): string => hash128(branchName);

export const productId = (product: string, size: string | null, flavour: string | null): string =>
  hash128([product, size ?? "", flavour ?? ""].join(SEP));

const itemKey = (item: Item) => `${item.size ?? ""}${SEP}${item.product}${SEP}${item.flavour ?? ""}${SEP}${item.pricePence}`;

/**
 * Keyed id of a sale: HMAC-SHA256 over its normalised content (time, branch, customer name,
 * items in a fixed order, total, payment), 128 bits as 32 hex chars. The card number is left out
 * (spreadsheet re-saves mangle it); without the secret the id reveals nothing about the customer.
 */
export function transactionId(secret: string | Buffer, sale: RawSale): string {
  const items = sale.items.map(itemKey).sort().join("\u001e");
  const message = [sale.time, sale.branch, sale.customerName.trim(), items, sale.totalPence, sale.payment].join(SEP);
  return createHmac("sha256", secret).update(message).digest("hex").slice(0, 32);
}
