/**
 * Worker thread of a KvTransferReceiver: computes the checksum (span-hash.ts) of layer spans straight from
 * the pool's SharedArrayBuffer (no copy), so verification runs beside the socket reads instead of
 * on the receiving thread. Requests are answered in order.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { VerifyReply, VerifyRequest } from './protocol.js';
import { hashRuns } from './span-hash.js';
import type { WasmMemory } from './wasm-api.js';

const memory = workerData as WasmMemory;

parentPort?.on('message', (request: VerifyRequest) => {
  const checksum = hashRuns(memory, request);
  const reply: VerifyReply = { type: 'verified', id: request.id, checksum };
  parentPort?.postMessage(reply);
});
