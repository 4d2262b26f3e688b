/**
 * Worker thread for the dead-owner test: attaches the pool as `owner`, takes references every
 * way an actor does (prefix match, table growth, allocate, a handoff it produces and one it
 * consumes), reports them, and then holds them, doing nothing, until the test terminates it.
 * NOTE: it idles between pool calls so `worker.terminate()` never lands inside the pool lock.
 */
import { parentPort } from 'node:worker_threads';
import { BlockPool } from '../block-pool.js';
import type { OwnerWorkReply, OwnerWorkRequest } from '../protocol.js';

function run(request: OwnerWorkRequest): OwnerWorkReply {
  const pool = BlockPool.attach(request.handle, { owner: request.owner });
  const { table } = pool.match(request.prompt);
  if (!table.ensureCapacity(request.prompt.length + request.extraTokens)) {
    return { type: 'owner-work-failed', message: 'ensureCapacity: pool exhausted' };
  }
  if (pool.allocate(request.blocks) === null) return { type: 'owner-work-failed', message: 'allocate: pool exhausted' };
  const producer = pool.openHandoff(table, { tokenCount: table.capacity });
  if (producer === null) return { type: 'owner-work-failed', message: 'openHandoff: no free slot' };
  if (request.consume !== null) {
    // Waits forever on a layer the test never publishes (killed while waiting).
    pool.acceptHandoff(request.consume).waitForLayer(0).catch(() => undefined);
  }
  return { type: 'holding', references: pool.ownerReferences(request.owner), produced: producer.descriptor };
}

parentPort?.on('message', (request: OwnerWorkRequest) => {
  let reply: OwnerWorkReply;
  try {
    reply = run(request);
  } catch (error) {
    reply = { type: 'owner-work-failed', message: String(error) };
  }
  parentPort?.postMessage(reply);
});
