/**
 * Training data: UTF-8 text files whose documents are separated by the `<|endoftext|>` marker,
 * tokenised at the byte level (id = byte value) with the end-of-text id after every document, and
 * split into a training part and a held-out tail (the last documents, a fraction of the bytes).
 * Invariants: every id is below BYTE_VOCAB_SIZE; each part ends with END_OF_TEXT_ID; a file or
 * directory yields the same tokens on every run (directory entries are read in sorted order).
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { TrainDataError } from './errors.js';

/** The literal that separates documents in a training file. */
export const END_OF_TEXT_MARKER = '<|endoftext|>';
/** The id of the end-of-text token in the byte-level vocabulary (after the 256 byte ids). */
export const END_OF_TEXT_ID = 256;
/** 256 byte ids plus the end-of-text id. */
export const BYTE_VOCAB_SIZE = 257;

/** A tokenised corpus split into training and held-out tokens. */
export interface Corpus {
  train: Uint16Array;
  eval: Uint16Array;
  /** Documents in the whole corpus. */
  documents: number;
  /** Documents held out. */
  evalDocuments: number;
  /** Files read, in order. */
  files: string[];
}

/** Splits text into documents at END_OF_TEXT_MARKER, trimming each and dropping empty ones. */
export function splitDocuments(text: string): string[] {
  return text.split(END_OF_TEXT_MARKER).map((d) => d.trim()).filter((d) => d !== '');
}

/** The byte-level ids of documents, each followed by END_OF_TEXT_ID. */
export function encodeDocuments(docs: readonly string[]): Uint16Array {
  const enc = new TextEncoder();
  const parts = docs.map((d) => enc.encode(d));
  const out = new Uint16Array(parts.reduce((n, p) => n + p.length + 1, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
    out[at++] = END_OF_TEXT_ID;
  }
  return out;
}

function listFiles(source: string): string[] {
  if (!existsSync(source)) throw new TrainDataError(source, 'no such file or directory');
  if (!statSync(source).isDirectory()) return [source];
  const files = readdirSync(source).filter((f) => f.endsWith('.txt')).sort().map((f) => join(source, f));
  if (files.length === 0) throw new TrainDataError(source, 'the directory holds no .txt files');
  return files;
}

/**
 * Reads `source` (a text file, or a directory of .txt files) and holds out the last documents
 * making up about `evalFraction` of the bytes (at least one document).
 */
export function readCorpus(source: string, evalFraction: number): Corpus {
  const files = listFiles(source);
  const docs = files.flatMap((f) => splitDocuments(readFileSync(f, 'utf8')));
  return splitCorpus(docs, evalFraction, source, files);
}

/** Splits documents into a training part and a held-out tail (see readCorpus). */
export function splitCorpus(docs: readonly string[], evalFraction: number, source = '(documents)', files: string[] = []): Corpus {
  if (docs.length < 2) throw new TrainDataError(source, `needs at least 2 documents (separated by ${END_OF_TEXT_MARKER}), found ${docs.length}`);
  const sizes = docs.map((d) => Buffer.byteLength(d) + 1);
  const total = sizes.reduce((a, b) => a + b, 0);
  let held = 0;
  let split = docs.length;
  while (split > 1 && (held === 0 || held + sizes[split - 1] <= evalFraction * total)) held += sizes[--split];
  return { train: encodeDocuments(docs.slice(0, split)), eval: encodeDocuments(docs.slice(split)), documents: docs.length, evalDocuments: docs.length - split, files };
}
