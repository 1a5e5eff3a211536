// The transform steps after `parse`, each a pure function over a stream of records, so they
// can be reordered or replaced. Records a step does not handle (rejects) pass through.
import { branchId, productId, transactionId } from "./keys.js";
import { IdSet } from "./id-set.js";
import type { EntityRow, RawSale, Reject, Sale, SaleItem, TransactionItemRow } from "./records.js";

/** Identifies each sale by its keyed id, then drops customer name and card number for good. */
export function clean(secret: string | Buffer) {
  return function* cleanSales(records: Iterable<RawSale | Reject>): Generator<Sale | Reject> {
    for (const r of records) {
      if (r.kind !== "sale") {
        yield r;
        continue;
      }
      const { line, time, branch, items, totalPence, payment } = r;
      yield { kind: "sale", line, transactionId: transactionId(secret, r), time, branch, items, totalPence, payment };
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
        size: item.size,
        product: item.product,
        flavour: item.flavour,
        pricePence: item.pricePence,
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
  let itemsPence = 0;
  return function* normaliseItems(records: Iterable<SaleItem | Reject>): Generator<EntityRow | Reject> {
    for (const r of records) {
      if (r.kind !== "item") {
        yield r;
        continue;
      }
      let bId = branchIds.get(r.branch);
      if (bId === undefined) {
        bId = branchId(r.branch);
        branchIds.set(r.branch, bId);
      }
      const productKey = `${r.product}\u001f${r.size ?? ""}\u001f${r.flavour ?? ""}`;
      let pId = productIds.get(productKey);
      if (pId === undefined) {
        pId = productId(r.product, r.size, r.flavour);
        productIds.set(productKey, pId);
      }
      if (r.index === 0) {
        itemsPence = 0;
        yield { table: "branches", branchId: bId, branchName: r.branch };
      }
      itemsPence += r.pricePence;
      yield { table: "products", productId: pId, productName: r.product, size: r.size, flavour: r.flavour };
      yield { table: "transaction_items", transactionId: r.transactionId, productId: pId, unitPricePence: r.pricePence, quantity: 1 };
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
  let basket = new Map<string, TransactionItemRow>();

  function* flush(): Generator<TransactionItemRow> {
    if (basket.size) yield* basket.values();
    basket = new Map();
  }

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
        yield* flush();
        current = r.transactionId;
        duplicate = !sales.add(current);
      }
      if (duplicate) continue;
      if (r.table === "transactions") {
        yield r;
        continue;
      }
      const key = `${r.productId}:${r.unitPricePence}`;
      const seen = basket.get(key);
      if (seen) seen.quantity += r.quantity;
      else basket.set(key, { ...r });
    }
    // Each call receives whole sales, so the last basket is complete here.
    yield* flush();
    current = "";
  };
}
