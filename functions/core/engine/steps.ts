// The transform steps after `parse`, over columns: the rules of rules.ts and sale-identity.ts
// applied a chunk at a time. Each is its own function from one chunk's columns to the
// next form (records.ts), so they can be reordered or replaced; the factories hold what a step
// must remember across the chunks of one file. Rejects pass through every step unchanged.
// Order: parse → clean → numberOccurrences → firstNormalForm → normalise → keepOnce.
import { ITEM_CACHE_LIMIT, sameItemRow, type Item } from "../rules.js";
import { branchId, Occurrences, occurrenceIds, productId, transactionIds } from "../sale-identity.js";
import type { BranchRow, Entities, ProductRow, RawSales, SaleItems, Sales } from "./records.js";

/** Identifies each sale by its keyed id, then drops customer name and card number for good. */
export function clean(transactionIdKey: string | Buffer) {
  const writeId = transactionIds(transactionIdKey);
  return function cleanSales(sales: RawSales): Sales {
    const transactionId = new Uint8Array(16 * sales.count);
    for (let i = 0; i < sales.count; i++) writeId(sales, i, transactionId, 16 * i);
    // A new object of the listed columns only: nothing downstream can reach the personal data.
    const { count, line, time, branch, payment, totalPence, itemStart, items, rejects } = sales;
    return { count, line, time, branch, payment, totalPence, itemStart, items, rejects, transactionId };
  };
}

/**
 * One sale per till line: the n-th sale of a file identical to an earlier one (same time, branch,
 * customer, basket, total, payment) gets the n-th occurrence id (docs/design.md §4), so two
 * identical lines stay two sales and the same content seen again gets the same ids. Call it on
 * the file's chunks in file order.
 */
export function numberOccurrences(transactionIdKey: string | Buffer, window?: number) {
  const occurrences = new Occurrences(occurrenceIds(transactionIdKey), window);
  return function numberSales(sales: Sales): Sales {
    // A copy: the input column is never changed.
    const transactionId = sales.transactionId.slice();
    for (let i = 0; i < sales.count; i++) occurrences.number(transactionId, 16 * i);
    return { ...sales, transactionId };
  };
}

/** Unnests the basket list column: one item row per basket item, naming its sale. */
export function firstNormalForm(sales: Sales): SaleItems {
  const itemSale = new Int32Array(sales.items.length);
  for (let sale = 0; sale < sales.count; sale++) itemSale.fill(sale, sales.itemStart[sale]!, sales.itemStart[sale + 1]!);
  return { ...sales, itemSale };
}

/** 2NF/3NF: branch, product, transaction and transaction-item rows with their keys. */
export function normalise() {
  const branchIds = new Map<string, string>();
  const productIds = new Map<string, string>();
  // Parse hands out one object per distinct item text, so most look-ups hit this first map.
  const productIdsByItem = new Map<Item, string>();
  return function normaliseSales(sales: SaleItems): Entities {
    const branches: BranchRow[] = [];
    const products: ProductRow[] = [];
    const { count, items } = sales;

    // Each branch and product entity is emitted when first met; later rows only refer to it.
    const saleBranch: string[] = new Array(count);
    let lastName: string | undefined;
    let lastId = "";
    for (let i = 0; i < count; i++) {
      const name = sales.branch[i]!;
      if (name !== lastName) {
        let id = branchIds.get(name);
        if (id === undefined) {
          id = branchId(name);
          branchIds.set(name, id);
          branches.push({ branchId: id, branchName: name });
        }
        lastName = name;
        lastId = id;
      }
      saleBranch[i] = lastId;
    }

    const itemProduct: string[] = new Array(items.length);
    const unitPricePence = new Float64Array(items.length);
    const itemsPence = new Float64Array(count);
    for (let k = 0; k < items.length; k++) {
      const item = items[k]!;
      let id = productIdsByItem.get(item);
      if (id === undefined) {
        const productKey = `${item.product}\u001f${item.size ?? ""}\u001f${item.flavour ?? ""}`;
        id = productIds.get(productKey);
        if (id === undefined) {
          id = productId(item.product, item.size, item.flavour);
          productIds.set(productKey, id);
          products.push({ productId: id, productName: item.product, size: item.size, flavour: item.flavour });
        }
        if (productIdsByItem.size < ITEM_CACHE_LIMIT) productIdsByItem.set(item, id);
      }
      itemProduct[k] = id;
      unitPricePence[k] = item.pricePence;
      itemsPence[sales.itemSale[k]!]! += item.pricePence;
    }

    return {
      branches,
      products,
      transactions: {
        count,
        transactionId: sales.transactionId,
        branchId: saleBranch,
        time: sales.time,
        payment: sales.payment,
        totalPence: sales.totalPence,
        line: sales.line,
        itemsPence,
      },
      transactionItems: {
        count: items.length,
        sale: sales.itemSale,
        productId: itemProduct,
        unitPricePence,
        quantity: new Int32Array(items.length).fill(1),
      },
      rejects: sales.rejects,
    };
  };
}

/**
 * Keeps each branch and product once; repeated items of one basket become one row with a
 * quantity. Sales all stay (each till line is a sale, numbered by `numberOccurrences`). Input
 * columns are never changed: merged item rows are left out of a `selected` list, and summed
 * quantities go to a new column.
 */
export function keepOnce() {
  const branches = new Set<string>();
  const products = new Set<string>();
  return function keepOnceInFile(entities: Entities): Entities {
    const t = entities.transactions;
    const it = entities.transactionItems;
    const saleRows = rowsOf(t);
    const itemRows = rowsOf(it);
    const keptItems = new Int32Array(itemRows.length);
    const quantity = it.quantity.slice();
    let itemsKept = 0;
    let k = 0;
    for (const sale of saleRows) {
      // Item rows are in sale order: pass those of sales not selected, then take this sale's.
      while (k < itemRows.length && it.sale[itemRows[k]!]! < sale) k++;
      const first = k;
      while (k < itemRows.length && it.sale[itemRows[k]!] === sale) k++;
      // A basket holds a handful of items: compare each with the ones kept before it.
      const basketStart = itemsKept;
      for (let x = first; x < k; x++) {
        const i = itemRows[x]!;
        let at = itemsKept - 1;
        while (at >= basketStart) {
          const j = keptItems[at]!;
          if (sameItemRow(it.productId[j]!, it.unitPricePence[j]!, it.productId[i]!, it.unitPricePence[i]!)) break;
          at--;
        }
        if (at < basketStart) keptItems[itemsKept++] = i;
        else quantity[keptItems[at]!]! += quantity[i]!;
      }
    }
    return {
      branches: entities.branches.filter((b) => addNew(branches, b.branchId)),
      products: entities.products.filter((p) => addNew(products, p.productId)),
      transactions: t,
      transactionItems: { ...it, quantity, selected: keptItems.subarray(0, itemsKept) },
      rejects: entities.rejects,
    };
  };
}

/** Adds `id` to `seen`; true when it was not there before. */
export function addNew(seen: Set<string>, id: string): boolean {
  if (seen.has(id)) return false;
  seen.add(id);
  return true;
}

/** Row indices of a table: its selection, or every row. */
export function rowsOf(table: { count: number; selected?: Int32Array }): Int32Array {
  if (table.selected) return table.selected;
  const all = new Int32Array(table.count);
  for (let i = 0; i < all.length; i++) all[i] = i;
  return all;
}
