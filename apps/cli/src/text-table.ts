/**
 * Plain-text tables for terminals and logs: columns padded to their widest cell, numbers
 * right-aligned. Cells must already be printable (escape model output first).
 */

/** A column: its header and whether cells align right (numbers). */
export interface Column {
  header: string;
  align?: 'left' | 'right';
}

/** Renders rows under headers, two spaces between columns; returns lines without newlines. */
export function formatTable(columns: readonly Column[], rows: readonly (readonly string[])[]): string[] {
  const widths = columns.map((c, i) => Math.max(c.header.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    columns
      .map((c, i) => {
        const cell = cells[i] ?? '';
        return c.align === 'right' ? cell.padStart(widths[i]) : cell.padEnd(widths[i]);
      })
      .join('  ')
      .trimEnd();
  return [line(columns.map((c) => c.header)), ...rows.map(line)];
}

/** Formats milliseconds (`—` when unknown). */
export function ms(value: number | null | undefined, digits = 0): string {
  return value === null || value === undefined ? '—' : value.toFixed(digits);
}

/** Formats a 0..1 share as a percentage (`—` when unknown). */
export function pct(value: number | null | undefined): string {
  return value === null || value === undefined ? '—' : `${Math.round(value * 100)}%`;
}
