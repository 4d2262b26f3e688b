/**
 * Renders demo snapshots as text: `renderLiveFrame` is the full screen redrawn in place on a TTY
 * (header, one row per actor, one row per request with its escaped text tail); `renderPlainTick`
 * is the compact form printed periodically when stdout is not a TTY (CI logs). Pure functions:
 * snapshot in, printable lines out.
 */
import type { ServingActorStats } from '@baton/engine';
import { hasEnded, type DemoSnapshot, type RequestProgress } from './demo-session.js';
import { elasticLines } from './elastic-lines.js';
import { escapeBytes } from './escape-text.js';
import { formatTable, ms, pct } from './text-table.js';

const STATE_MARK: Record<RequestProgress['state'], string> = { waiting: '·', queued: '…', streaming: '▸', done: '✓', aborted: '⊘', failed: '✗' };

/** The full live frame (TTY); `width` cuts the text column so lines do not wrap. */
export function renderLiveFrame(s: DemoSnapshot, width: number): string[] {
  const actors = s.stats?.actors ?? [];
  const actorTable = formatTable(
    [{ header: 'actor' }, { header: 'doing' }, { header: 'queue', align: 'right' }, { header: 'running', align: 'right' },
      { header: 'kv blocks', align: 'right' }, { header: 'util', align: 'right' }, { header: 'steps', align: 'right' }],
    actors.map((a) => [a.name, a.activity, String(a.queueLength), String(a.running), String(a.kvBlocksUsed), pct(a.utilization), String(a.steps)]),
  );
  const rows = s.requests.map((p) => [
    `${STATE_MARK[p.state]} ${p.request.id}`, p.request.kind, String(p.promptTokens), `${p.ids.length}/${p.request.maxTokens}`,
    ms(p.ttftMs),
  ]);
  const reqTable = formatTable(
    [{ header: '  req' }, { header: 'kind' }, { header: 'prompt', align: 'right' }, { header: 'tokens', align: 'right' }, { header: 'ttft ms', align: 'right' }],
    rows,
  );
  const textWidth = Math.max(8, width - (reqTable[0]?.length ?? 0) - 3);
  const withText = reqTable.map((line, i) => (i === 0 ? `${line}  text (latest bytes)` : `${line}  ${tail(s.requests[i - 1], textWidth)}`));
  const elastic = elasticLines(s.stats);
  return [headline(s), '', ...actorTable, ...(elastic.length > 0 ? ['', ...elastic] : []), '', ...withText].map((l) => cut(l, width));
}

/** The compact periodic lines (not a TTY): one per actor, one for the requests. */
export function renderPlainTick(s: DemoSnapshot): string[] {
  const t = stamp(s.elapsedMs);
  const actors = (s.stats?.actors ?? []).map((a) => `${t} ${actorLine(a)}`);
  const tokens = s.requests.map((p) => `${p.request.id}:${p.ids.length}${hasEnded(p.state) ? STATE_MARK[p.state] : ''}`).join(' ');
  // NOTE: the stamp already says when; the headline's own time would repeat it.
  return [`${t} ${headline(s, false)}`, ...actors, ...elasticLines(s.stats).map((l) => `${t} ${l}`), `${t} tokens ${tokens}`];
}

/** One line when a request ends (not a TTY). */
export function renderRequestEnd(p: RequestProgress, s: DemoSnapshot): string {
  const m = p.result?.metrics;
  const how = p.state === 'failed' ? `failed (${p.error ?? 'unknown'})` : p.state;
  const head = `${stamp(s.elapsedMs)} ${p.request.id} ${how}`;
  return `${head}: ${p.ids.length} tokens, ttft ${ms(m?.ttftMs ?? p.ttftMs)} ms, tpot ${ms(m?.tpotMs, 1)} ms  "${escapeBytes(Uint8Array.from(p.bytes), { maxWidth: 48 })}"`;
}

function headline(s: DemoSnapshot, withTime = true): string {
  const done = s.requests.filter((p) => hasEnded(p.state)).length;
  const aborted = s.requests.filter((p) => p.state === 'aborted').length;
  const arrived = s.requests.filter((p) => p.state !== 'waiting').length;
  const tokens = s.requests.reduce((n, p) => n + p.ids.length, 0);
  const pool = s.stats?.pool;
  const kv = pool === undefined ? 'kv —' : `kv ${pool.used}/${pool.total} blocks used, ${pool.cached} cached`;
  const time = withTime ? `${(s.elapsedMs / 1000).toFixed(1)} s · ` : '';
  return `${time}requests ${done}/${s.requests.length} done${aborted > 0 ? ` (${aborted} aborted)` : ''}, ${arrived} arrived · ${tokens} tokens · ${kv}`;
}

function actorLine(a: ServingActorStats): string {
  return `${a.name}: ${a.activity} · queue ${a.queueLength} · running ${a.running} · kv ${a.kvBlocksUsed} · util ${pct(a.utilization)}`;
}

// NOTE: the text is escaped from the ids' display bytes, not from decoded text, so invalid UTF-8
// shows as \xNN instead of collapsing into U+FFFD.
function tail(p: RequestProgress | undefined, width: number): string {
  return p === undefined ? '' : escapeBytes(Uint8Array.from(p.bytes), { maxWidth: width, keep: 'tail' });
}

function stamp(elapsedMs: number): string {
  return `[${(elapsedMs / 1000).toFixed(1).padStart(5)}s]`;
}

function cut(line: string, width: number): string {
  return line.length <= width ? line : line.slice(0, Math.max(0, width - 1)) + '…';
}
