/** Plain-text tables for the bench's terminal output: padded columns, a dashed rule under the head. */

/** Formats `rows` under `head`, columns padded to their widest cell. */
export function table(head: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const row = (r: readonly string[]): string => r.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd();
  return [row(head), row(widths.map((w) => '-'.repeat(w))), ...rows.map(row)].join('\n');
}
