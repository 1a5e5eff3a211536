// The transform steps after `parse`, each a pure function over a stream of records, so they
// can be reordered or replaced. Records a step does not handle (rejects) pass through.
import { branchId, productId, transactionIds } from "./keys.js";
import { IdSet } from "./id-set.js";
import type { EntityRow, Item, RawSale, Reject, Sale, SaleItem, TransactionItemRow } from "./records.js";

/** Bound on per-file caches keyed by distinct items (a real menu has under a hundred). */
const ITEM_CACHE_LIMIT = 10_000;

/** Identifies each sale by its keyed id, then drops customer name and card number for good. */
export function clean(secret: string | Buffer) {
  const transactionId = transactionIds(secret);
  return function* cleanSales(records: Iterable<RawSale | Reject>): Generator<Sale | Reject> {
    for (const r of records) {
      if (r.kind !== "sale") {
        yield r;
        continue;
      }
      const { line, time, branch, items, totalPence, payment } = r;
      yield { kind: "sale", line, transactionId: transactionId(r), time, branch, items, totalPence, payment };
    }
  };
}

/** One record per basket item, each carrying its sale's attributes. */
export function* firstNormalForm(records: Iterable<Sale | Reject>): Generator<SaleItem | Reject> {
  for (const r of records) {
    if (r.kind !== "sale") {
      yield r;
      continue;
    }
    const count = r.items.length;
    for (let index = 0; index < count; index++) {
      const item = r.items[index]!;
      yield {
        kind: "item",
        line: r.line,
        transactionId: r.transactionId,
        time: r.time,
        branch: r.branch,
        totalPence: r.totalPence,
        payment: r.payment,
        item,
        index,
        count,
      };
    }
  }
}

/** 2NF/3NF: items → branch, product, transaction and transaction-item rows with their keys. */
export function normalise() {
  const branchIds = new Map<string, string>();
  const productIds = new Map<string, string>();
  // Parse hands out one object per distinct item text, so most look-ups hit this first map.
  const productIdsByItem = new Map<Item, string>();
  let itemsPence = 0;
  return function* normaliseItems(records: Iterable<SaleItem | Reject>): Generator<EntityRow | Reject> {
    for (const r of records) {
      if (r.kind !== "item") {
        yield r;
        continue;
      }
      // Each branch and product entity is emitted when first met; later items only refer to it.
      let bId = branchIds.get(r.branch);
      if (bId === undefined) {
        bId = branchId(r.branch);
        branchIds.set(r.branch, bId);
        yield { table: "branches", branchId: bId, branchName: r.branch };
      }
      const item = r.item;
      let pId = productIdsByItem.get(item);
      if (pId === undefined) {
        const productKey = `${item.product}\u001f${item.size ?? ""}\u001f${item.flavour ?? ""}`;
        pId = productIds.get(productKey);
        if (pId === undefined) {
          pId = productId(item.product, item.size, item.flavour);
          productIds.set(productKey, pId);
          yield { table: "products", productId: pId, productName: item.product, size: item.size, flavour: item.flavour };
        }
        if (productIdsByItem.size < ITEM_CACHE_LIMIT) productIdsByItem.set(item, pId);
      }
      if (r.index === 0) itemsPence = 0;
      itemsPence += item.pricePence;
      yield { table: "transaction_items", transactionId: r.transactionId, productId: pId, unitPricePence: item.pricePence, quantity: 1 };
      if (r.index === r.count - 1) {
        yield {
          table: "transactions",
          transactionId: r.transactionId,
          branchId: bId,
          time: r.time,
          payment: r.payment,
          totalPence: r.totalPence,
          line: r.line,
          itemsPence,
        };
      }
    }
  };
}

/**
 * Keeps each branch, product and sale once; repeated items of one basket become one row with a
 * quantity. A sale's rows arrive together (and each call gets whole sales), so only the current
 * basket is buffered; the ids of sales already seen are kept in a compact set (~32 bytes each).
 */
export function dedupe() {
  const branches = new Set<string>();
  const products = new Set<string>();
  const sales = new IdSet();
  let current = "";
  let duplicate = false;
  // The current basket: at most a handful of items, so a list beats a map.
  let basket: TransactionItemRow[] = [];


  return function* dedupeRows(records: Iterable<EntityRow | Reject>): Generator<EntityRow | Reject> {
    for (const r of records) {
      if (!("table" in r)) {
        yield r;
        continue;
      }
      switch (r.table) {
        case "branches":
          if (!branches.has(r.branchId)) {
            branches.add(r.branchId);
            yield r;
          }
          continue;
        case "products":
          if (!products.has(r.productId)) {
            products.add(r.productId);
            yield r;
          }
          continue;
      }
      if (r.transactionId !== current) {
        for (const item of basket) yield item;
        basket = [];
        current = r.transactionId;
        duplicate = !sales.add(current);
      }
      if (duplicate) continue;
      if (r.table === "transactions") {
        // A sale's items go out just before the sale itself.
        for (const item of basket) yield item;
        basket = [];
        yield r;
        continue;
      }
      // A repeated item becomes a new row with the summed quantity; input rows are never changed.
      let at = basket.length - 1;
      while (at >= 0 && (basket[at]!.productId !== r.productId || basket[at]!.unitPricePence !== r.unitPricePence)) at--;
      if (at < 0) basket.push(r);
      else basket[at] = { ...basket[at]!, quantity: basket[at]!.quantity + r.quantity };
    }
    // Each call receives whole sales, so the last basket is complete here.
    for (const item of basket) yield item;
    basket = [];
    current = "";
  };
}
