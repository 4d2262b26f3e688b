/**
 * PrefillProcess: the prefill role in its own OS process. It owns a KV pool (with prefix reuse),
 * computes each prompt, samples the first token, and streams the prompt's KV to the chosen decode
 * process over a loopback socket (KvTransferSender: framed, checksummed). It listens on one port
 * per decode process; each decode process dials its port (and dials again after a restart, which
 * replaces the link). One prompt at a time, FIFO; the parent is told the first token so it can
 * relay it to the decode process.
 *
 * Invariants: a prompt's blocks are released once its transfer ends (sent, failed or aborted);
 * a failed transfer or prefill ends the request with an error; an aborted request is skipped.
 * NOTE: the model's prefill is synchronous in this thread, so KV is sent after the whole prompt
 * (not layer by layer while computing, as the in-process engine does across threads).
 */
import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import { BlockPool, KvTransferSender } from '@baton/kv-cache';
import type { Gpt } from '@baton/model';
import { engineNow } from '../clock.js';
import { ActorFailedError } from '../errors.js';
import type { WireRequest } from '../protocol.js';
import { RequestSampler } from '../request-sampler.js';
import type { FromProcess, ProcessInit, ToProcess } from './process-protocol.js';
import { ProcessCounters } from './process-counters.js';

interface Job {
  request: WireRequest;
  sequenceId: number;
  decode: number;
}

interface DecodeLink {
  socket: Socket;
  sender: KvTransferSender;
}

/** The prefill side of the multi-process deployment. */
export class PrefillProcess {
  readonly #queue: Job[] = [];
  readonly #aborted = new Set<string>();
  readonly #links = new Map<number, DecodeLink>();
  readonly #linkWaiters = new Map<number, Array<(link: DecodeLink) => void>>();
  readonly #servers: Server[] = [];
  readonly #counters: ProcessCounters;
  #busy = false;
  #running = 0;

  constructor(
    private readonly init: ProcessInit,
    private readonly model: Gpt,
    private readonly pool: BlockPool,
    private readonly send: (msg: FromProcess) => void,
    backend: string,
  ) {
    this.#counters = new ProcessCounters('prefill', backend);
  }

  /** Handles one parent message. */
  handle(msg: ToProcess): void {
    if (msg.type === 'prefill') {
      this.#queue.push({ request: msg.request, sequenceId: msg.sequenceId, decode: msg.decode });
      void this.#drain();
    } else if (msg.type === 'abort') this.#aborted.add(msg.requestId);
    else if (msg.type === 'stats') {
      const counts = { queueLength: this.#queue.length, running: this.#running, kvBlocksUsed: this.pool.stats().used };
      this.send({ type: 'stats', ask: msg.ask, stats: this.#counters.snapshot(this.init.name, counts), pool: this.pool.stats() });
    }
  }

  /** Opens one listener per decode process (ephemeral loopback ports); resolves with the ports. */
  async listen(): Promise<number[]> {
    const ports: number[] = [];
    for (let index = 0; index < this.init.decodeCount; index++) {
      const server = createServer((socket) => this.#accept(index, socket));
      this.#servers.push(server);
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      const address = server.address();
      if (address === null || typeof address === 'string') throw new Error('a KV listener has no TCP port');
      ports.push(address.port);
    }
    return ports;
  }

  /** Closes every decode link and listener (shutdown). */
  close(): void {
    for (const link of this.#links.values()) link.socket.destroy();
    for (const server of this.#servers) server.close();
  }

  /** Decode process `index` (re)linked: the newest connection replaces the old one. */
  #accept(index: number, socket: Socket): void {
    socket.on('error', () => undefined);
    socket.setNoDelay(true);
    this.#links.get(index)?.socket.destroy();
    const link = { socket, sender: new KvTransferSender({ pool: this.pool, socket }) };
    this.#links.set(index, link);
    for (const resolve of this.#linkWaiters.get(index)?.splice(0) ?? []) resolve(link);
  }

  /** The link to decode process `index`, waiting up to the handoff timeout for it to dial in. */
  #linkTo(index: number): Promise<DecodeLink> {
    const link = this.#links.get(index);
    if (link !== undefined && !link.socket.destroyed) return Promise.resolve(link);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        waiters.splice(waiters.indexOf(done), 1);
        reject(new Error(`decode process ${index} has not linked within ${this.init.handoffTimeoutMs} ms`));
      }, this.init.handoffTimeoutMs);
      const done = (l: DecodeLink): void => {
        clearTimeout(timer);
        resolve(l);
      };
      const waiters = this.#linkWaiters.get(index) ?? [];
      this.#linkWaiters.set(index, waiters);
      waiters.push(done);
    });
  }

  async #drain(): Promise<void> {
    if (this.#busy) return;
    this.#busy = true;
    try {
      for (let job = this.#queue.shift(); job !== undefined; job = this.#queue.shift()) {
        if (this.#aborted.delete(job.request.id)) continue;
        await this.#run(job).catch((e: unknown) => this.#fail(job!, e));
        // NOTE: yield to the IPC channel between prompts (aborts, stats asks).
        await new Promise((r) => setImmediate(r));
      }
    } finally {
      this.#busy = false;
    }
  }

  async #run(job: Job): Promise<void> {
    const { request } = job;
    const prompt = request.promptIds;
    const match = this.pool.match(prompt.slice(0, -1));
    const table = match.table;
    this.#running = 1;
    try {
      if (!table.ensureCapacity(prompt.length)) throw new Error(`no room for ${prompt.length} prompt tokens in the KV pool`);
      const start = engineNow();
      this.send({ type: 'client', msg: { type: 'prefillStarted', requestId: request.id, time: start } });
      const seq = this.model.attach(table, { length: match.cachedTokens });
      let firstToken: number;
      let finished: boolean;
      try {
        const logits = this.model.prefill(seq, prompt.slice(match.cachedTokens), { chunkSize: this.init.chunkSize });
        this.pool.publish(table, prompt);
        const first = new RequestSampler(request).next(logits);
        firstToken = first.id;
        finished = first.finish !== null;
        const time = engineNow();
        this.#counters.step(1, time - start, prompt.length - match.cachedTokens);
        this.send({ type: 'client', msg: { type: 'tokens', items: [{ requestId: request.id, id: first.id, index: request.emitted, time }] } });
        if (first.finish !== null) {
          this.send({ type: 'client', msg: { type: 'finished', requestId: request.id, reason: first.finish, time, error: null, outputTokens: request.emitted + 1 } });
        }
        this.send({ type: 'prefilled', requestId: request.id, firstToken, finished, time, decode: job.decode });
      } finally {
        seq.release();
      }
      if (finished || this.#aborted.delete(request.id)) return;
      const { sender } = await this.#linkTo(job.decode);
      await sender.send({ sequenceId: job.sequenceId, blockIds: table.blockIds, tokenCount: prompt.length });
    } finally {
      this.#running = 0;
      table.release();
    }
  }

  #fail(job: Job, e: unknown): void {
    const cause = e instanceof Error ? e.message : String(e);
    const error = new ActorFailedError(this.init.name, `prefill or KV transfer to decode-${job.decode} failed: ${cause}`).toJSON();
    this.send({ type: 'client', msg: { type: 'finished', requestId: job.request.id, reason: 'error', time: engineNow(), error, outputTokens: job.request.emitted } });
  }
}
