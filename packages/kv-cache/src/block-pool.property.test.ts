/**
 * Property-based tests of the pool's invariants: seeded random sequences of allocate, retain,
 * release, match, publish, ensureCapacity, openTable, openHandoff, publishLayer, accept, adopt,
 * cancel, reclaimOwner, cancelHandoffsOf and sweepExpiredHandoffs, run against a model of who
 * holds which references. After every step: the ledger is consistent (poolViolations), each
 * block's reference count equals the model's, each owner's and each handoff slot's per-block
 * counts equal the model's (so owners + slots + unowned = the reference count). At the end,
 * releasing everything returns the free count to its start.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BlockPool } from './block-pool.js';
import type { BlockTable } from './block-table.js';
import { HandoffCancelledError } from './errors.js';
import type { HandoffConsumer, HandoffProducer } from './handoff.js';
import { holderCount, poolViolations } from './testing/pool-invariants.js';

const OWNERS = 3;
const geometry = { blockSize: 2, layers: 2, heads: 1, headDim: 1, totalBlocks: 12, handoffSlots: 3, maxOwners: OWNERS };
const PROMPTS = [
  [1, 2, 3, 4, 5],
  [1, 2, 3, 4, 9, 9],
  [1, 2, 7],
  [8, 8, 8, 8],
];
/** Far enough that a 10 ms deadline is past and a 1e9 ms one is not, whatever the test's speed. */
const NEAR = 1e5;
const FAR = 1e10;

/** A reference holding: view 0 is unowned, view k + 1 is owner k. */
type Holding = { view: number; ids: readonly number[] } | { view: number; table: BlockTable };

interface Handoff {
  producer: HandoffProducer;
  consumers: { view: number; consumer: HandoffConsumer }[];
  producerView: number;
  consumerOwner: number | null;
  deadlineMs: number | null;
  layers: number;
  live: boolean;
}

type Op =
  | { op: 'allocate'; view: number; n: number }
  | { op: 'retain'; view: number; pick: number }
  | { op: 'release'; pick: number }
  | { op: 'match'; view: number; prompt: number; publish: boolean }
  | { op: 'grow'; pick: number; tokens: number }
  | { op: 'openTable'; view: number; pick: number }
  | { op: 'openHandoff'; pick: number; deadline: number | null }
  | { op: 'publishLayer'; pick: number }
  | { op: 'accept'; pick: number; view: number }
  | { op: 'adopt'; pick: number; consumer: number }
  | { op: 'cancel'; pick: number; consumer: number | null }
  | { op: 'reclaim'; owner: number }
  | { op: 'cancelOf'; owner: number }
  | { op: 'sweep'; far: boolean }
  | { op: 'evict' };

const view = fc.integer({ min: 0, max: OWNERS });
const pick = fc.nat(20);
// NOTE: handoff steps weigh more: adoption needs open, both layers, accept and adopt on one handoff.
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constant('allocate' as const), view, n: fc.integer({ min: 0, max: 4 }) }),
  fc.record({ op: fc.constant('retain' as const), view, pick }),
  fc.record({ op: fc.constant('release' as const), pick }),
  { arbitrary: fc.record({ op: fc.constant('match' as const), view, prompt: fc.nat(PROMPTS.length - 1), publish: fc.boolean() }), weight: 3 },
  fc.record({ op: fc.constant('grow' as const), pick, tokens: fc.nat(8) }),
  fc.record({ op: fc.constant('openTable' as const), view, pick }),
  { arbitrary: fc.record({ op: fc.constant('openHandoff' as const), pick, deadline: fc.constantFrom(null, 10, 1e9) }), weight: 3 },
  { arbitrary: fc.record({ op: fc.constant('publishLayer' as const), pick: fc.nat(1) }), weight: 4 },
  { arbitrary: fc.record({ op: fc.constant('accept' as const), pick: fc.nat(1), view }), weight: 2 },
  { arbitrary: fc.record({ op: fc.constant('adopt' as const), pick: fc.nat(1), consumer: fc.nat(3) }), weight: 2 },
  fc.record({ op: fc.constant('cancel' as const), pick, consumer: fc.option(fc.nat(3), { nil: null }) }),
  fc.record({ op: fc.constant('reclaim' as const), owner: fc.nat(OWNERS - 1) }),
  fc.record({ op: fc.constant('cancelOf' as const), owner: fc.nat(OWNERS - 1) }),
  fc.record({ op: fc.constant('sweep' as const), far: fc.boolean() }),
  fc.record({ op: fc.constant('evict' as const) }),
);

/** Outcomes seen over all runs, to assert that the sequences reach the interesting paths. */
const seen = { adopted: 0, swept: 0, cancelledOf: 0, reclaimed: 0, matched: 0, exhausted: 0 };

/** Runs `ops` against a fresh pool and its model; throws on the first broken invariant. */
class Run {
  readonly pool = BlockPool.create(geometry);
  readonly views = [this.pool, ...Array.from({ length: OWNERS }, (_, k) => this.pool.withOwner(k))];
  readonly holdings: Holding[] = [];
  readonly handoffs: Handoff[] = [];
  readonly start = this.pool.stats().free;

  step(o: Op): void {
    const h = this.holdings.length === 0 || !('pick' in o) ? null : this.holdings[o.pick % this.holdings.length];
    // Handoff steps pick among the most recent handoffs (pick 0 = the newest).
    const x = this.handoffs.length === 0 || !('pick' in o) ? null : this.handoffs[this.handoffs.length - 1 - (o.pick % this.handoffs.length)];
    switch (o.op) {
      case 'allocate': {
        const ids = this.views[o.view].allocate(o.n);
        if (ids !== null) this.holdings.push({ view: o.view, ids });
        else seen.exhausted++;
        return;
      }
      case 'retain':
        if (h === null || idsOf(h).length === 0) return;
        this.views[o.view].retain(idsOf(h));
        this.holdings.push({ view: o.view, ids: [...idsOf(h)] });
        return;
      case 'release':
        if (h === null) return;
        this.holdings.splice(this.holdings.indexOf(h), 1);
        if ('table' in h) h.table.release();
        else this.views[h.view].release(h.ids);
        return;
      case 'match': {
        const prompt = PROMPTS[o.prompt];
        const { table, cachedTokens } = this.views[o.view].match(prompt.slice(0, -1));
        if (cachedTokens > 0) seen.matched++;
        this.holdings.push({ view: o.view, table });
        if (o.publish && table.ensureCapacity(prompt.length)) this.pool.publish(table, prompt);
        return;
      }
      case 'grow':
        if (h !== null && 'table' in h) h.table.ensureCapacity(o.tokens);
        return;
      case 'openTable':
        if (h !== null && 'table' in h) this.holdings.push({ view: o.view, table: this.views[o.view].openTable(h.table.toDescriptor()) });
        return;
      case 'openHandoff': {
        if (h === null || !('table' in h)) return;
        const table = h.table;
        const producer = this.views[h.view].openHandoff(table, { tokenCount: table.capacity, deadlineMs: o.deadline ?? undefined });
        if (producer === null) return expect(this.handoffs.filter((d) => d.live).length).toBe(geometry.handoffSlots);
        const producerView = h.view;
        this.handoffs.push({ producer, consumers: [], producerView, consumerOwner: null, deadlineMs: o.deadline, layers: 0, live: true });
        return;
      }
      case 'publishLayer':
        if (x === null || x.layers === geometry.layers) return;
        if (!x.live) return expect(() => x.producer.publishLayer(x.layers)).toThrow(HandoffCancelledError);
        x.producer.publishLayer(x.layers++);
        return;
      case 'accept':
        if (x === null) return;
        x.consumers.push({ view: o.view, consumer: this.views[o.view].acceptHandoff(x.producer.descriptor) });
        if (x.live && o.view > 0) x.consumerOwner = o.view - 1;
        return;
      case 'adopt': {
        if (x === null || x.consumers.length === 0) return;
        const c = x.consumers[o.consumer % x.consumers.length];
        if (!x.live || x.layers < geometry.layers) return expect(() => c.consumer.adopt()).toThrow();
        this.holdings.push({ view: c.view, table: c.consumer.adopt() });
        seen.adopted++;
        x.live = false;
        return;
      }
      case 'cancel': {
        if (x === null) return;
        const side = o.consumer === null || x.consumers.length === 0 ? x.producer : x.consumers[o.consumer % x.consumers.length].consumer;
        expect(side.cancel()).toBe(x.live);
        x.live = false;
        return;
      }
      case 'reclaim':
        return this.reclaim(o.owner);
      case 'cancelOf': {
        const hit = this.handoffs.filter((d) => d.live && (d.producerView === o.owner + 1 || d.consumerOwner === o.owner));
        expect(this.pool.cancelHandoffsOf(o.owner)).toBe(hit.length);
        for (const d of hit) d.live = false;
        seen.cancelledOf += hit.length;
        return;
      }
      case 'sweep': {
        const hit = this.handoffs.filter((d) => d.live && d.deadlineMs !== null && (o.far || d.deadlineMs === 10));
        expect(this.pool.sweepExpiredHandoffs(Date.now() + (o.far ? FAR : NEAR))).toBe(hit.length);
        for (const d of hit) d.live = false;
        seen.swept += hit.length;
        return;
      }
      case 'evict':
        this.pool.evictAllCached();
    }
  }

  /** Owner `owner` dies: the model forgets its holdings; reclaim must free exactly what they pinned. */
  reclaim(owner: number): void {
    const before = this.expectedRefs();
    for (let i = this.holdings.length - 1; i >= 0; i--) {
      if (this.holdings[i].view === owner + 1) this.holdings.splice(i, 1);
    }
    const after = this.expectedRefs();
    const unreferenced = before.filter((n, b) => n > 0 && after[b] === 0).length;
    expect(this.pool.reclaimOwner(owner)).toBe(unreferenced);
    seen.reclaimed += unreferenced;
  }

  /** Reference count per block implied by the model: holdings (optionally of one view) and live handoffs. */
  expectedRefs(onlyView: number | null = null): number[] {
    const refs = new Array<number>(geometry.totalBlocks).fill(0);
    for (const h of this.holdings) {
      if (onlyView === null || h.view === onlyView) for (const b of idsOf(h)) refs[b]++;
    }
    if (onlyView === null) for (let s = 0; s < geometry.handoffSlots; s++) this.slotRefs(s).forEach((n, b) => (refs[b] += n));
    return refs;
  }

  /** References the model says live handoff slot `slot` holds, per block. */
  slotRefs(slot: number): number[] {
    const refs = new Array<number>(geometry.totalBlocks).fill(0);
    for (const d of this.handoffs) {
      if (d.live && d.producer.descriptor.slot === slot) for (const b of d.producer.descriptor.blockIds) refs[b]++;
    }
    return refs;
  }

  check(): void {
    expect(poolViolations(this.pool)).toEqual([]);
    const blocks = [...Array(geometry.totalBlocks).keys()];
    expect(blocks.map((b) => this.pool.refCount(b))).toEqual(this.expectedRefs());
    for (let k = 0; k < OWNERS; k++) {
      expect(blocks.map((b) => holderCount(this.pool, k, b))).toEqual(this.expectedRefs(k + 1));
    }
    for (let s = 0; s < geometry.handoffSlots; s++) {
      expect(blocks.map((b) => holderCount(this.pool, OWNERS + s, b))).toEqual(this.slotRefs(s));
    }
  }

  /** Releases everything still held: free count must return to its start. */
  drain(): void {
    for (const d of this.handoffs) d.producer.cancel();
    for (const h of this.holdings.splice(0)) {
      if ('table' in h) h.table.release();
      else this.views[h.view].release(h.ids);
    }
    for (const d of this.handoffs) d.live = false;
    this.check();
    this.pool.evictAllCached();
    expect(this.pool.stats()).toMatchObject({ free: this.start, used: 0, cached: 0 });
    for (let k = 0; k < OWNERS; k++) expect(this.pool.ownerReferences(k)).toBe(0);
  }

}

function idsOf(h: Holding): readonly number[] {
  return 'table' in h ? h.table.blockIds : h.ids;
}

describe('BlockPool invariants (property-based)', () => {
  it('hold after every step of random operation sequences, and releasing all frees all', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 80, size: 'max' }), (ops) => {
        const run = new Run();
        for (const o of ops) {
          run.step(o);
          run.check();
        }
        run.drain();
      }),
      { seed: 0x5eed, numRuns: 300 },
    );
    for (const [outcome, count] of Object.entries(seen)) expect(count, outcome).toBeGreaterThan(5);
  });
});
