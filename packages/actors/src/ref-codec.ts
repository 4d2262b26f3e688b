/**
 * Finds `ActorRef`s inside outgoing messages and swaps them for `RefDescriptor`s (within a
 * process: each with a fresh, transferred MessagePort connected straight to the target actor;
 * to another process: the socket address of the target's node), and swaps descriptors back for
 * live refs on arrival.
 * Invariants: only arrays and plain objects are searched, at most MAX_DEPTH levels deep (refs
 * inside Maps, Sets or class instances are not found); the caller's objects are never mutated
 * (paths holding a ref are copied); a message with no ref is returned as is, with no allocation.
 */
import type { TransferListItem } from 'node:worker_threads';
import { ActorRef, linkOf } from './actor-ref.js';
import { REF_KEY, type CopyScope, type RefDescriptor } from './protocol.js';

const MAX_DEPTH = 16;

/** A message ready to post: the value, whether it holds refs, and what to transfer. */
export interface EncodedMessage {
  readonly value: unknown;
  readonly refs: boolean;
  readonly transfer: readonly TransferListItem[];
}

function isPlainObject(value: object): value is Record<string, unknown> {
  const proto = Object.getPrototypeOf(value) as object | null;
  return proto === Object.prototype || proto === null;
}

function containsRef(value: unknown, depth: number): boolean {
  if (typeof value !== 'object' || value === null || depth > MAX_DEPTH) return false;
  if (value instanceof ActorRef) return true;
  if (Array.isArray(value)) {
    for (const item of value) if (containsRef(item, depth + 1)) return true;
    return false;
  }
  if (!isPlainObject(value)) return false;
  for (const key in value) if (containsRef(value[key], depth + 1)) return true;
  return false;
}

function replaceRefs(value: unknown, depth: number, transfer: TransferListItem[], scope: CopyScope): unknown {
  if (typeof value !== 'object' || value === null || depth > MAX_DEPTH) return value;
  if (value instanceof ActorRef) {
    const descriptor = linkOf(value).copy(scope);
    if (descriptor.route.via === 'port') transfer.push(descriptor.route.port);
    return { [REF_KEY]: descriptor };
  }
  if (Array.isArray(value)) {
    return containsRef(value, depth) ? value.map((item) => replaceRefs(item, depth + 1, transfer, scope)) : value;
  }
  if (!isPlainObject(value) || !containsRef(value, depth)) return value;
  const copy: Record<string, unknown> = {};
  for (const key in value) copy[key] = replaceRefs(value[key], depth + 1, transfer, scope);
  return copy;
}

const NO_TRANSFER: readonly TransferListItem[] = Object.freeze([]);

/**
 * Prepares `value` for sending to a receiver in `scope`; `extraTransfer` is appended to the
 * transfer list (which holds the new ports of 'process' copies).
 */
export function encodeRefs(value: unknown, extraTransfer: readonly TransferListItem[] | undefined, scope: CopyScope): EncodedMessage {
  if (!containsRef(value, 0)) return { value, refs: false, transfer: extraTransfer ?? NO_TRANSFER };
  const transfer: TransferListItem[] = extraTransfer === undefined ? [] : [...extraTransfer];
  return { value: replaceRefs(value, 0, transfer, scope), refs: true, transfer };
}

/** Replaces descriptors inside a freshly received (cloned, so owned) value, in place. */
export function decodeRefs(value: unknown, makeRef: (descriptor: RefDescriptor) => ActorRef): unknown {
  return decodeAt(value, 0, makeRef);
}

function decodeAt(value: unknown, depth: number, makeRef: (descriptor: RefDescriptor) => ActorRef): unknown {
  if (typeof value !== 'object' || value === null || depth > MAX_DEPTH) return value;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = decodeAt(value[i], depth + 1, makeRef);
    return value;
  }
  if (!isPlainObject(value)) return value;
  const descriptor = value[REF_KEY];
  if (descriptor !== undefined) return makeRef(descriptor as RefDescriptor);
  for (const key in value) value[key] = decodeAt(value[key], depth + 1, makeRef);
  return value;
}
