// Generated raw branch files for the version-order tests.

/** A branch's day of `n` sales, one a minute from 08:00 (distinct lines, so distinct sales). */
export function dayFile(n: number, branch = "Leeds"): string {
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    const hh = String(8 + Math.floor(i / 60)).padStart(2, "0");
    const mm = String(i % 60).padStart(2, "0");
    const pence = 150 + (i % 7) * 10;
    lines.push(`01/03/2024 ${hh}:${mm},${branch},Customer ${i},Large Latte - ${(pence / 100).toFixed(2)},${(pence / 100).toFixed(2)},CARD,4111222233334444`);
  }
  return lines.join("\n") + "\n";
}
export const HEADER_ONLY = "Timestamp,Location,Customer Name,Items Ordered,Total Amount,Payment Method,Card Number\n";
