/**
 * Entry point of a forked serving process (child_process.fork of the compiled file). It waits for
 * its `init` message, loads the backend and model, builds its own KV pool, becomes a prefill or
 * decode process, and answers `ready`. On `shutdown` (or when the parent goes away) it releases
 * everything and exits.
 */
import { setThreadNice } from '@baton/actors';
import { BlockPool } from '@baton/kv-cache';
import { initBackend, loadModel } from '@baton/model';
import { DecodeProcess } from './decode-process.js';
import { PrefillProcess } from './prefill-process.js';
import type { FromProcess, ProcessInit, ToProcess } from './process-protocol.js';

const send = (msg: FromProcess): void => {
  if (process.connected) process.send?.(msg);
};

let role: PrefillProcess | DecodeProcess | null = null;
const early: ToProcess[] = [];

async function start(init: ProcessInit): Promise<void> {
  // NOTE: the model runs on this process's main thread, whose thread id is the process id.
  if (init.nice !== null) setThreadNice(init.nice);
  const info = await initBackend(init.backend);
  const model = await loadModel(init.model);
  const c = model.config;
  const pool = BlockPool.create({
    blockSize: init.kv.blockSize, layers: c.nLayer, heads: c.nHead, headDim: c.nEmbd / c.nHead, totalBlocks: init.kv.numBlocks, handoffSlots: 64,
  });
  if (init.role === 'decode') {
    role = new DecodeProcess(init, model, pool, send, info.name);
    send({ type: 'ready', kvPorts: [], backend: info.name });
  } else {
    const prefill = new PrefillProcess(init, model, pool, send, info.name);
    const kvPorts = await prefill.listen();
    role = prefill;
    send({ type: 'ready', kvPorts, backend: info.name });
  }
  for (const msg of early.splice(0)) role.handle(msg);
}

function stop(): void {
  role?.close();
  process.exit(0);
}

process.on('message', (msg: ToProcess) => {
  if (msg.type === 'init') {
    start(msg.init).catch((e: unknown) => {
      send({ type: 'fatal', message: e instanceof Error ? e.message : String(e) });
      process.exit(1);
    });
  } else if (msg.type === 'shutdown') stop();
  else if (role === null) early.push(msg);
  else role.handle(msg);
});
process.on('disconnect', stop);
