/**
 * The demo view's elastic lines: each instance's role (with `→role` while it flips), the latest
 * flip and its cost, and the planner's window attainment with what it did last and why. Pure:
 * engine stats in, printable lines out; none for an engine whose roles are fixed.
 */
import type { EngineStats } from '@baton/engine';

/** Lines describing elastic roles and the planner, or none. */
export function elasticLines(stats: EngineStats | null): string[] {
  // NOTE: optional chains throughout: partial stats (older engines, test fakes) have no elastic part.
  const e = stats?.scheduler?.elastic ?? null;
  if (e === null) return [];
  const roles = e.instances.map((i) => `${i.index}:${i.role === 'prefill' ? 'P' : 'D'}${i.flippingTo === null ? '' : `→${i.flippingTo === 'prefill' ? 'P' : 'D'}`}`).join(' ');
  const last = e.flips[e.flips.length - 1];
  const flip = last === undefined ? 'no flip yet' : `last flip: ${last.instance} ${last.from}→${last.to} in ${Math.round(last.costMs)} ms (${last.handedOver} handed over, ${last.drained} drained, ${last.requeued} requeued)`;
  const lines = [`elastic ${e.mode}: ${e.prefill}P:${e.decode}D  [${roles}]  ${flip}`];
  const p = stats?.planner ?? null;
  if (p !== null) {
    const att = (x: number | null): string => (x === null ? '—' : `${Math.round(x * 100)}%`);
    const d = p.decisions[p.decisions.length - 1];
    const did = p.holding !== null ? `holding: ${p.holding}` : d === undefined ? '' : `decided: ${d.from === null ? `spawn ${d.to ?? ''}` : d.to === null ? `retire ${d.instance ?? ''}` : `${d.instance ?? ''} → ${d.to}`} (${d.reason})`;
    lines.push(`planner: TTFT ${att(p.ttftAttainment)} TPOT ${att(p.tpotAttainment)} over ${p.samples} req  ${did}`);
  }
  return lines;
}
