/**
 * Worker thread of a KvTransferReceiver: computes the CRC32 of received layer spans straight from
 * the pool's SharedArrayBuffer (no copy), so verification runs beside the socket reads instead of
 * on the receiving thread. Requests are answered in order.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { crc32 } from 'node:zlib';
import type { VerifyReply, VerifyRequest } from './protocol.js';

const data = workerData as SharedArrayBuffer;

parentPort?.on('message', (request: VerifyRequest) => {
  let checksum = 0;
  for (const offset of request.offsets) checksum = crc32(new Uint8Array(data, offset, request.spanBytes), checksum);
  const reply: VerifyReply = { type: 'verified', id: request.id, checksum };
  parentPort?.postMessage(reply);
});
