/**
 * Data preparation: turns Jane Austen's six novels, as Debian's `r-cran-janeaustenr` package
 * ships them (MIT-licensed package; the novels, 1811-1818, are in the public domain), into a
 * training file of paragraphs separated by `<|endoftext|>` lines (the format readCorpus reads).
 * Run: `apt-get install r-cran-janeaustenr` (or `apt-get download` it and `dpkg -x` the .deb),
 * then `node packages/train/dist/prepare-data.js [--from DIR] --out FILE`, DIR being the package's
 * `data/` directory (default /usr/lib/R/site-library/janeaustenr/data).
 * NOTE: lines are reflowed into one line per paragraph, chapter/volume headings and the Project
 * Gutenberg `_italics_` underscores are dropped, so that every document is plain prose.
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { END_OF_TEXT_MARKER } from './corpus.js';
import { readRDataStrings } from './r-data.js';

/** The novels in publication order (the R data set's variable names). */
export const AUSTEN_NOVELS = ['sensesensibility', 'prideprejudice', 'mansfieldpark', 'emma', 'northangerabbey', 'persuasion'] as const;

const DEFAULT_DIR = '/usr/lib/R/site-library/janeaustenr/data';
const HEADING = /^(chapter|volume)\s+[0-9ivxlc]+\.?$|^(chapter|volume)\b.{0,20}$|^(by jane austen|the end|finis)\.?$/i;

/** Groups a novel's lines into paragraphs (blank lines separate them), dropping headings and title lines. */
export function paragraphs(lines: readonly string[]): string[] {
  const out: string[] = [];
  let current: string[] = [];
  const flush = (): void => {
    const text = current.join(' ').replace(/_/g, '').replace(/\s+/g, ' ').trim();
    current = [];
    if (text === '' || HEADING.test(text)) return;
    // NOTE: title pages (all capitals, no sentence punctuation) are not prose.
    if (text === text.toUpperCase() && !/[.!?]/.test(text)) return;
    out.push(text);
  };
  for (const line of lines) {
    if (line.trim() === '') flush();
    else current.push(line.trim());
  }
  flush();
  return out;
}

/** Builds the training file's text: every paragraph of every novel, each followed by the end-of-text marker line. */
export function austenTrainingText(dataDir: string): { text: string; documents: number } {
  const sets = readRDataStrings(dataDir);
  const docs: string[] = [];
  for (const name of AUSTEN_NOVELS) {
    const lines = sets.get(name);
    if (lines === undefined) throw new Error(`${dataDir}: the R data has no "${name}" (found ${[...sets.keys()].join(', ')})`);
    docs.push(...paragraphs(lines));
  }
  return { text: docs.map((d) => `${d}\n${END_OF_TEXT_MARKER}\n`).join(''), documents: docs.length };
}

function main(): void {
  const { values } = parseArgs({ options: { from: { type: 'string' }, out: { type: 'string' } }, strict: true });
  if (values.out === undefined) throw new Error('--out FILE is required');
  const { text, documents } = austenTrainingText(values.from ?? DEFAULT_DIR);
  writeFileSync(values.out, text);
  process.stdout.write(`${values.out}: ${documents} paragraphs, ${Buffer.byteLength(text)} bytes\n`);
}

if (import.meta.url === `file://${process.argv[1]}`) main();
