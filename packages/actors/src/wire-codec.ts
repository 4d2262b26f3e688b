/**
 * How values cross a process: V8's own serializer (the structured-clone format that
 * `postMessage` and the fork IPC channel's `serialization: 'advanced'` use), with two changes:
 * - a SharedArrayBuffer, or a typed array / DataView over one, is refused. (Node's default
 *   serializer would copy such a view silently, so the receiver would hold an unshared copy while
 *   the sender believes it shares memory.)
 * - a received typed array owns its memory: Node's default deserializer returns views into the
 *   receive buffer, which would pin a whole socket read per message.
 * When serializing fails, `uncloneableField` walks the value to name the offending field.
 */
import { DefaultDeserializer, DefaultSerializer } from 'node:v8';
import { MessagePort } from 'node:worker_threads';
import { UncloneableFieldError } from './errors.js';

/** Thrown from inside the serializer for a view over shared memory (replaced by a path later). */
class SharedViewError extends Error {}

// NOTE: Node's typings omit these documented protected hooks of the default (de)serializer.
const writeHostObject = (DefaultSerializer.prototype as unknown as { _writeHostObject(object: object): void })._writeHostObject;
const readHostObject = (DefaultDeserializer.prototype as unknown as { _readHostObject(): unknown })._readHostObject;

class WireSerializer extends DefaultSerializer {
  // NOTE: an explicit constructor; the implicit one spreads its arguments on every message.
  constructor() {
    super();
  }

  _writeHostObject(object: object): void {
    if (ArrayBuffer.isView(object) && object.buffer instanceof SharedArrayBuffer) {
      throw new SharedViewError(`${object.constructor.name} over a SharedArrayBuffer`);
    }
    writeHostObject.call(this, object);
  }
}

class WireDeserializer extends DefaultDeserializer {
  constructor(bytes: Uint8Array) {
    super(bytes as Buffer);
  }

  _readHostObject(): unknown {
    const view = readHostObject.call(this) as ArrayBufferView;
    if (Buffer.isBuffer(view)) return Buffer.from(view);
    if (view instanceof DataView) return new DataView(view.buffer.slice(view.byteOffset, view.byteOffset + view.byteLength));
    return (view as unknown as Uint8Array).slice();
  }
}

/** `value` in V8's serialization format; throws what V8 throws (see `uncloneableField`). */
export function toWire(value: unknown): Buffer {
  const serializer = new WireSerializer();
  serializer.writeHeader();
  serializer.writeValue(value);
  return serializer.releaseBuffer();
}

/** The value serialized in `bytes` (typed arrays in it own fresh memory). */
export function fromWire(bytes: Uint8Array): unknown {
  const deserializer = new WireDeserializer(bytes);
  deserializer.readHeader();
  return deserializer.readValue();
}

/** Why `value` itself cannot cross a process, or null when it may (its contents aside). */
function leafReason(value: unknown): string | null {
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'symbol') return 'a symbol';
  if (typeof value !== 'object' || value === null) return null;
  if (value instanceof SharedArrayBuffer) return 'a SharedArrayBuffer';
  if (ArrayBuffer.isView(value) && value.buffer instanceof SharedArrayBuffer) return `a ${value.constructor.name} over a SharedArrayBuffer`;
  if (value instanceof MessagePort) return 'a MessagePort';
  if (value instanceof WeakMap || value instanceof WeakSet || value instanceof WeakRef) return `a ${value.constructor.name}`;
  if (value instanceof Promise) return 'a Promise';
  return null;
}

function keyPath(path: string, key: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
}

function find(value: unknown, path: string, seen: Set<object>): UncloneableFieldError | null {
  const reason = leafReason(value);
  if (reason !== null) return new UncloneableFieldError(path, reason);
  if (typeof value !== 'object' || value === null || seen.has(value) || ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return null;
  seen.add(value);
  if (value instanceof Map) {
    let i = 0;
    for (const [key, item] of value) {
      const found = find(key, `${path}<key ${i}>`, seen) ?? find(item, `${path}.get(${typeof key === 'string' ? JSON.stringify(key) : `<key ${i}>`})`, seen);
      if (found !== null) return found;
      i++;
    }
    return null;
  }
  if (value instanceof Set) {
    let i = 0;
    for (const item of value) {
      const found = find(item, `${path}<item ${i++}>`, seen);
      if (found !== null) return found;
    }
    return null;
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = find(value[i], `${path}[${i}]`, seen);
      if (found !== null) return found;
    }
    return null;
  }
  for (const key of Object.keys(value)) {
    const found = find((value as Record<string, unknown>)[key], keyPath(path, key), seen);
    if (found !== null) return found;
  }
  return null;
}

/**
 * The first field of `value` that cannot cross a process, as an error naming its path from `root`
 * (for example `init.pool.buffer is a SharedArrayBuffer, which cannot cross a process`), or null
 * when no such field is found.
 */
export function uncloneableField(value: unknown, root: string): UncloneableFieldError | null {
  return find(value, root, new Set());
}

/** Serializes `value`, or throws the `UncloneableFieldError` naming the bad field (or V8's error). */
export function toWireExplained(value: unknown, root: string): Buffer {
  try {
    return toWire(value);
  } catch (error) {
    throw uncloneableField(value, root) ?? error;
  }
}
