/**
 * Context caching on a NATS cluster whose workers sit on emulated hosts (loopback addresses of
 * their own: prefill on 127.0.0.11, decode on 127.0.0.12, each given --listen-host and
 * --advertise-host). The prefill actor's KV endpoint listens where its worker says, never on
 * 127.0.0.1 (which another host could not reach), so a decode actor returns each finished turn's
 * KV to it across hosts and the next turn reuses the reply; greedy tokens equal plain generate.
 * `engine.dropCaches()` then empties every pool and tier of the cluster and the prompt tree.
 * With prompt-tree routing and disk tiers on the workers (an engine for each case), a turn pulls the prefix the decode
 * worker holds on its disk into the prefill worker (swapped in, transferred: reference tokens);
 * once the decode worker's files are damaged behind the tree's back, the pull sends only what is
 * intact and the rest is recomputed, with reference tokens. Nothing is left behind: worker
 * processes, broker connections, pool blocks, block files.
 */
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, type Engine, type EngineStats } from '@baton/engine';
import { prefixKeys } from '@baton/kv-cache';
import { BLOCK_SIZE, blockFiles, damage, expectPoolsUnreferenced, freeByPool, poolDirHolding, sized, turn } from '../engine/context-cache-support.js';
import { eventually } from '../support/eventually.js';
import { pidAlive } from '../support/processes.js';
import { mixedPrompts, referenceIds } from '../support/reference.js';
import { startChild, stopAll } from './child-processes.js';
import { NatsServer } from './nats-server.js';

const BATON = fileURLToPath(new URL('../../apps/cli/bin/baton.js', import.meta.url));
const MODEL = 'baton-tiny';
const PREFILL_HOST = '127.0.0.11';
const DECODE_HOST = '127.0.0.12';

let nats: NatsServer;
let engine: Engine | null = null;
const pids: number[] = [];
const diskRoot = mkdtempSync(join(tmpdir(), 'baton-ctx-cluster-'));

beforeAll(async () => {
  nats = await NatsServer.start();
});
afterAll(async () => {
  await nats?.stop();
  rmSync(diskRoot, { recursive: true, force: true });
});
afterEach(async () => {
  await engine?.close({ deadlineMs: 0 });
  engine = null;
  await stopAll();
  for (const pid of pids.splice(0)) expect(pidAlive(pid), `worker pid ${pid} ended`).toBe(false);
  await eventually(() => nats.clients(), { until: (c) => c.length === 0, what: 'no client connection left at the broker' });
}, 120_000);

async function worker(role: 'prefill' | 'decode', id: string, host: string): Promise<number> {
  const child = await startChild([
    BATON, 'worker', '--nats', nats.url, '--role', role, '--node-id', id, '--model', MODEL, '--backend', 'wasm', '--heartbeat-ms', '250',
    '--listen-host', host, '--advertise-host', host,
  ], /registered/);
  pids.push(child.pid as number);
  return child.pid as number;
}

/** Local addresses of the TCP sockets process `pid` listens on (Linux /proc). */
function listeningAddresses(pid: number): string[] {
  const inodes = new Set(readdirSync(`/proc/${pid}/fd`).flatMap((fd) => {
    try {
      return [/^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`))?.[1] ?? ''];
    } catch {
      return [];
    }
  }));
  // NOTE: /proc/net/tcp: "sl local rem st ... inode"; local is hex IPv4 (little-endian) and port; st 0A = LISTEN.
  return readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1).flatMap((line) => {
    const f = line.trim().split(/\s+/);
    if (f.length < 10 || f[3] !== '0A' || !inodes.has(f[9])) return [];
    const [ip] = f[1].split(':');
    return [[3, 2, 1, 0].map((i) => parseInt(ip.slice(2 * i, 2 * i + 2), 16)).join('.')];
  });
}

const actor = (s: EngineStats, role: 'prefill' | 'decode') => s.actors.find((a) => a.role === role);

describe('context caching across emulated hosts (nats-server, baton worker processes)', { timeout: 240_000 }, () => {
  it.runIf(process.platform === 'linux')('decode returns KV to a prefill on another host; dropCaches empties every pool and the tree', async () => {
    const [prefillPid] = await Promise.all([worker('prefill', 'cp0', PREFILL_HOST), worker('decode', 'cd0', DECODE_HOST)]);
    engine = await createEngine({
      model: MODEL, backend: 'wasm', stallTimeoutMs: 20_000, routing: 'session',
      cluster: { nats: nats.url, prefill: 1, decode: 1, deadAfterMs: 3_000, waitMs: 60_000 },
    });
    const e = engine;
    // The prefill worker's sockets (actor messages and its KV endpoint) all listen on its own host.
    const listening = listeningAddresses(prefillPid);
    expect(listening.length, 'sockets the prefill worker listens on').toBeGreaterThanOrEqual(2);
    expect(new Set(listening), 'every listening socket of the prefill worker is on its host').toEqual(new Set([PREFILL_HOST]));
    const messages = mixedPrompts(3, 61, 40);
    let context: number[] = [];
    for (const [t, message] of messages.entries()) {
      const prompt = [...context, ...message];
      // NOTE: 24-token replies cross a block boundary every turn: the returned KV holds blocks the prefill never computed.
      const r = await e.generate({ prompt, maxTokens: 24, session: 'conversation' }).result;
      expect(r.ids, `turn ${t}`).toEqual(await referenceIds(MODEL, prompt, 24));
      context = [...prompt, ...r.ids];
      await eventually(() => e.stats(), {
        until: (s) => (actor(s, 'prefill')?.tiers?.hot.indexed ?? 0) >= (actor(s, 'decode')?.tiers?.hot.indexed ?? 1),
        what: `turn ${t}'s returned KV indexed by the prefill pool on ${PREFILL_HOST}`, timeoutMs: 30_000,
      });
    }
    const before = await e.stats();
    expect(actor(before, 'prefill')?.tiers?.hot.cached, 'cached blocks in the prefill pool').toBeGreaterThan(0);
    const result = await e.dropCaches();
    expect(result.skipped).toEqual([]);
    expect(result.dropped.hot, 'hot blocks dropped').toBeGreaterThan(0);
    const after = await eventually(() => e.stats(), { until: (s) => s.scheduler.promptTree.nodes === 0, what: 'the prompt tree emptied by the evict events' });
    for (const p of after.pools) expect([p.name, p.stats.free, p.stats.cached, p.stats.used]).toEqual([p.name, p.stats.total, 0, 0]);
  });

  // NOTE: each case in an engine of its own: the transfer rule weighs the measured transfer rate, and
  // an earlier pull through disk on a loaded machine can make moving look slower than recomputing.
  for (const how of ['intact', 'corrupt'] as const) {
    it.runIf(process.platform === 'linux')(`prompt-tree routing pulls a prefix from the decode worker's disk tier (${how} files): reference tokens; drops empty everything`, async () => {
      await Promise.all([worker('prefill', `cp-${how}`, PREFILL_HOST), worker('decode', `cd-${how}`, DECODE_HOST)]);
      const diskDir = mkdtempSync(join(diskRoot, `pull-${how}-`));
      // NOTE: 12-block pools without a host tier: an 11-block filler pushes a turn's blocks to disk.
      engine = await createEngine({
        model: MODEL, backend: 'wasm', stallTimeoutMs: 20_000, routing: 'prompt-tree', kv: { numBlocks: 12 },
        cache: { hostBlocks: 0, diskDir, diskMaxBytes: 64 << 20, returnFromDecode: false },
        cluster: { nats: nats.url, prefill: 1, decode: 1, deadAfterMs: 3_000, waitMs: 60_000 },
      });
      const e = engine;
      const startFree = freeByPool(await e.stats());
      const seed = how === 'intact' ? 81 : 85;
      // NOTE: a 24-token reply: the decode pool holds 5 full blocks of this turn, the prefill pool 4.
      const history = await turn(e, sized(seed, 64), `${how}: first turn`, 24);
      await eventually(() => e.stats(), {
        until: (st) => st.scheduler.promptTree.perInstance[1] >= (actor(st, 'decode')?.tiers?.hot.indexed ?? 1), what: 'the decode pool\'s blocks in the prompt tree', timeoutMs: 30_000,
      });
      await turn(e, sized(seed + 1, 168), `${how}: filler`);
      // The decode worker's disk directory is the one holding the reply's block (the prefill pool never had it).
      const replyKey = prefixKeys(history, BLOCK_SIZE)[4];
      const decodeDir = (await eventually(async () => poolDirHolding(diskDir, replyKey), { until: (d) => d !== null, what: 'the reply\'s block on the decode worker\'s disk' })) ?? '';
      if (how === 'corrupt') expect(damage(blockFiles(decodeDir), 'corrupt'), 'decode files damaged').toBeGreaterThan(0);
      const before = await e.stats();
      await turn(e, [...history, ...sized(seed + 2, 40)], `${how}: turn after the filler`);
      const after = await e.stats();
      const delta = (pick: (st: EngineStats) => number): number => pick(after) - pick(before);
      expect(delta((st) => st.scheduler.prefixTransfers.asked), `${how}: transfers asked of the decode worker`).toBeGreaterThan(0);
      const arrived = delta((st) => st.scheduler.prefixTransfers.arrivedTokens);
      if (how === 'intact') {
        expect(delta((st) => actor(st, 'decode')?.tiers?.disk?.hits ?? 0), 'blocks the decode worker read back from disk to send').toBeGreaterThan(0);
        expect(arrived, 'tokens of KV moved past the prefill\'s own 4 blocks').toBeGreaterThan(64);
      } else {
        expect(delta((st) => actor(st, 'decode')?.tiers?.disk?.corrupt ?? 0), 'damaged files refused by the decode worker').toBeGreaterThan(0);
        expect(arrived, 'tokens of KV moved: never the damaged blocks').toBeLessThan(80);
      }
      expectPoolsUnreferenced(after);
      const result = await e.dropCaches();
      expect(result.skipped).toEqual([]);
      const dropped = await eventually(() => e.stats(), { until: (st) => st.scheduler.promptTree.nodes === 0, what: 'the prompt tree emptied by the evict events' });
      expect(freeByPool(dropped), 'every pool\'s free count back at its start').toEqual(startFree);
      expect(blockFiles(diskDir), 'block files left on disk').toEqual([]);
    });
  }
});
