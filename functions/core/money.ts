// Exact money: decimal strings to integer pence and back, never through binary floats.

/** Parses `4`, `2.3`, `10.90` (at most two decimals) to pence; `null` when it is not such a number. */
export function parsePence(text: string): number | null {
  const n = text.length;
  if (n === 0 || n > 12) return null;
  let pounds = 0;
  let i = 0;
  for (; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 46 /* . */) break;
    if (c < 48 || c > 57) return null;
    pounds = pounds * 10 + (c - 48);
  }
  if (i === 0) return null;
  if (i === n) return pounds * 100;
  const decimals = n - i - 1;
  if (decimals < 1 || decimals > 2) return null;
  const d1 = text.charCodeAt(i + 1) - 48;
  const d2 = decimals === 2 ? text.charCodeAt(i + 2) - 48 : 0;
  if (d1 < 0 || d1 > 9 || d2 < 0 || d2 > 9) return null;
  return pounds * 100 + d1 * 10 + d2;
}

/** Pence to the `DECIMAL(10,2)` text the warehouse loads, e.g. 705 → `7.05`. */
export function formatPence(pence: number): string {
  const pounds = Math.trunc(pence / 100);
  const rest = pence - pounds * 100;
  return `${pounds}.${rest < 10 ? "0" : ""}${rest}`;
}
