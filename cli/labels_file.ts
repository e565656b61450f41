import { readFileBytes } from '../runtime/io/files.js';
import { EdgestreamError } from '../runtime/errors.js';

/**
 * Labels from a file: plain text (one label per line) or CSV. A CSV with a header row uses its
 * `display_name` column if present (the official class_labels_indices.csv: index,mid,display_name),
 * else its last column; rows are ordered by an `index` column when there is one.
 */
export function parseLabels(path: string): string[] {
  const text = new TextDecoder('utf-8').decode(readFileBytes(path));
  const lines = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l.length > 0);
  if (lines.length === 0) throw new EdgestreamError('E_CONFIG', `${path}: no labels in the file`);
  if (!path.toLowerCase().endsWith('.csv')) return lines;
  const rows = lines.map((l) => l.split(',').map((c) => c.trim().replace(/^"(.*)"$/, '$1')));
  const header = rows[0]!.map((h) => h.toLowerCase());
  const hasHeader = header.includes('display_name') || header.includes('index') || header.includes('label');
  const body = hasHeader ? rows.slice(1) : rows;
  const col = hasHeader ? (header.includes('display_name') ? header.indexOf('display_name') : header.length - 1) : rows[0]!.length - 1;
  const idx = hasHeader ? header.indexOf('index') : -1;
  const ordered = idx >= 0 ? [...body].sort((a, b) => Number(a[idx]) - Number(b[idx])) : body;
  return ordered.map((r, i) => {
    const v = r[col];
    if (!v) throw new EdgestreamError('E_CONFIG', `${path}: row ${i + 1} has no label`);
    return v;
  });
}
