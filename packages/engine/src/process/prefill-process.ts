/**
 * PrefillProcess: the prefill role in its own OS process. It owns a KV pool (with prefix reuse),
 * computes each prompt, samples the first token, and streams the prompt's KV to the chosen decode
 * process over a loopback socket (KvTransferSender: framed, checksummed). One prompt at a time,
 * FIFO; the parent is told the first token so it can relay it to the decode process.
 *
 * Invariants: a prompt's blocks are released once its transfer ends (sent, failed or aborted);
 * a failed transfer or prefill ends the request with an error; an aborted request is skipped.
 * NOTE: the model's prefill is synchronous in this thread, so KV is sent after the whole prompt
 * (not layer by layer while computing, as the in-process engine does across threads).
 */
import { connect, type Socket } from 'node:net';
import { once } from 'node:events';
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
  port: number;
  socket: Socket;
  sender: KvTransferSender;
}

/** The prefill side of the multi-process deployment. */
export class PrefillProcess {
  readonly #queue: Job[] = [];
  readonly #aborted = new Set<string>();
  readonly #links = new Map<number, Promise<DecodeLink>>();
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
    } else if (msg.type === 'decodePort') this.#link(msg.index, msg.port);
    else if (msg.type === 'abort') this.#aborted.add(msg.requestId);
    else if (msg.type === 'stats') {
      const counts = { queueLength: this.#queue.length, running: this.#running, kvBlocksUsed: this.pool.stats().used };
      this.send({ type: 'stats', ask: msg.ask, stats: this.#counters.snapshot(this.init.name, counts), pool: this.pool.stats() });
    }
  }

  /** Closes every decode link (shutdown). */
  close(): void {
    for (const link of this.#links.values()) void link.then((l) => l.socket.destroy(), () => undefined);
  }

  /** (Re)connects to decode process `index` at `port`. */
  #link(index: number, port: number): void {
    const old = this.#links.get(index);
    void old?.then((l) => l.socket.destroy(), () => undefined);
    const socket = connect(port, '127.0.0.1');
    socket.on('error', () => undefined);
    const link = once(socket, 'connect').then(() => ({ port, socket, sender: new KvTransferSender({ pool: this.pool, socket }) }));
    link.catch(() => undefined);
    this.#links.set(index, link);
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
      const link = this.#links.get(job.decode);
      if (link === undefined) throw new Error(`no link to decode process ${job.decode}`);
      const { sender } = await link;
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
