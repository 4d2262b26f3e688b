/**
 * Engine flags shared by `generate`, `demo` and `serve`: `--mode`, `--prefill`, `--decode`,
 * `--colocated`, `--placement` (`--processes` = `--placement process`), `--elastic` with the planner's
 * targets (`--planner-ttft`, `--planner-tpot`) and `--backend`, turned into `createEngine` options.
 * Invariant: a count or elastic flag is accepted only with a mode that uses it, and the planner's
 * targets only with `--elastic planner`, so a misapplied flag is an error instead of being silently
 * ignored.
 */
import type { ActorPlacement, EngineMode, EngineOptionsInput } from '@baton/engine';
import { parseBackendName } from '@baton/model';
import { CliError, parseNumber } from './cli-error.js';

/** parseArgs option specs for the engine flags. */
export const ENGINE_OPTIONS = {
  mode: { type: 'string' },
  prefill: { type: 'string' },
  decode: { type: 'string' },
  colocated: { type: 'string' },
  placement: { type: 'string' },
  processes: { type: 'boolean' },
  elastic: { type: 'string' },
  'planner-ttft': { type: 'string' },
  'planner-tpot': { type: 'string' },
} as const;

/** What `--elastic` may say: fixed roles, or the planner flipping instances between roles. */
export const ELASTIC_MODES = ['fixed', 'planner'] as const;

/** Where `--placement` may put the serving actors. */
export const PLACEMENTS: readonly ActorPlacement[] = ['thread', 'process'];

/** Every engine mode, as `--mode` spells it. */
export const ENGINE_MODES: readonly EngineMode[] = ['single', 'disaggregated', 'colocated', 'chunked'];

/** Raw flag values as parseArgs returns them. */
export interface EngineFlagValues {
  mode?: string;
  prefill?: string;
  decode?: string;
  colocated?: string;
  placement?: string;
  processes?: boolean;
  elastic?: string;
  'planner-ttft'?: string;
  'planner-tpot'?: string;
  backend?: string;
  model?: string;
}

/** Parses `--mode`; `fallback` when absent. */
export function parseMode(value: string | undefined, fallback: EngineMode): EngineMode {
  if (value === undefined) return fallback;
  const mode = ENGINE_MODES.find((m) => m === value);
  if (mode === undefined) throw new CliError(`--mode: expected one of ${ENGINE_MODES.join(' | ')}, got "${value}"`);
  return mode;
}

/** Actor counts used when the flags are absent. */
export interface EngineCountDefaults {
  prefill: number;
  decode: number;
  colocated: number;
}

/** Builds createEngine options from the flags (the mode already parsed). */
export function engineOptionsFromFlags(v: EngineFlagValues, mode: EngineMode, defaults: EngineCountDefaults): EngineOptionsInput {
  requireMode(v.prefill, '--prefill', mode, ['disaggregated']);
  requireMode(v.decode, '--decode', mode, ['disaggregated']);
  requireMode(v.colocated, '--colocated', mode, ['colocated', 'chunked']);
  const count = (value: string | undefined, flag: string, fallback: number): number =>
    parseNumber(value, flag, { min: 1, max: 64, integer: true, fallback });
  const options: EngineOptionsInput = {
    mode,
    prefill: count(v.prefill, '--prefill', defaults.prefill),
    decode: count(v.decode, '--decode', defaults.decode),
    colocated: count(v.colocated, '--colocated', defaults.colocated),
  };
  requireMode(v.elastic, '--elastic', mode, ['disaggregated']);
  const elastic = parseElastic(v);
  if (elastic !== null) options.elastic = elastic;
  const placement = parsePlacement(v);
  if (placement !== 'thread') options.placement = placement;
  if (v.model !== undefined) options.model = v.model;
  if (v.backend !== undefined) options.backend = parseBackendName(v.backend, '--backend');
  return options;
}

/** `--placement thread|process`, or `--processes` (its synonym for `process`); 'thread' when absent. */
export function parsePlacement(v: Pick<EngineFlagValues, 'placement' | 'processes'>): ActorPlacement {
  if (v.placement === undefined) return v.processes === true ? 'process' : 'thread';
  const placement = PLACEMENTS.find((p) => p === v.placement);
  if (placement === undefined) throw new CliError(`--placement: expected one of ${PLACEMENTS.join(' | ')}, got "${v.placement}"`);
  if (v.processes === true && placement !== 'process') throw new CliError(`--processes: means --placement process, but --placement is ${placement}`);
  return placement;
}

/**
 * `--elastic planner --planner-ttft MS --planner-tpot MS`: the planner flips instances between
 * prefill and decode to keep those targets (they are the planner's own: no request is rejected for
 * them). null for `--elastic fixed` or no flag.
 */
export function parseElastic(v: Pick<EngineFlagValues, 'elastic' | 'planner-ttft' | 'planner-tpot'>): EngineOptionsInput['elastic'] | null {
  const targets = (['planner-ttft', 'planner-tpot'] as const).filter((flag) => v[flag] !== undefined);
  if (v.elastic === undefined || v.elastic === 'fixed') {
    if (targets.length > 0) throw new CliError(`--${targets[0]}: applies to --elastic planner only`);
    return null;
  }
  if (v.elastic !== 'planner') throw new CliError(`--elastic: expected one of ${ELASTIC_MODES.join(' | ')}, got "${v.elastic}"`);
  const target = (flag: 'planner-ttft' | 'planner-tpot'): number => {
    if (v[flag] === undefined) throw new CliError(`--${flag}: required with --elastic planner (the planner's target, ms)`);
    return parseNumber(v[flag], `--${flag}`, { min: Number.MIN_VALUE, fallback: 0 });
  };
  return { mode: 'planner', slo: { ttftMs: target('planner-ttft'), tpotMs: target('planner-tpot') } };
}

function requireMode(value: string | undefined, flag: string, mode: EngineMode, modes: readonly EngineMode[]): void {
  if (value !== undefined && !modes.includes(mode)) {
    throw new CliError(`${flag}: applies to --mode ${modes.join('|')} only (mode is ${mode})`);
  }
}
