/**
 * The one-line training progress display: step of total with a bar, the latest training loss
 * (smoothed), the latest eval loss, the learning rate, tokens per second and time left. Pure
 * formatting; the caller decides where and how often to write it.
 */

/** What one progress line shows. */
export interface ProgressReport {
  step: number;
  totalSteps: number;
  /** Training loss, nats per token (exponential moving average). */
  loss: number;
  /** Latest eval loss, or null before the first eval. */
  evalLoss: number | null;
  lr: number;
  tokensPerSecond: number;
  /** Seconds left at the current speed. */
  etaSeconds: number;
}

function duration(s: number): string {
  if (!Number.isFinite(s)) return '?';
  const m = Math.floor(s / 60);
  return m > 0 ? `${m}m${String(Math.round(s % 60)).padStart(2, '0')}s` : `${Math.round(s)}s`;
}

/** Renders a report as one line (`width` characters of bar). */
export function formatProgress(r: ProgressReport, width = 24): string {
  const filled = r.totalSteps === 0 ? width : Math.round((r.step / r.totalSteps) * width);
  const bar = '='.repeat(Math.max(0, filled - 1)) + (filled > 0 ? '>' : '') + ' '.repeat(width - filled);
  const evalPart = r.evalLoss === null ? '' : ` eval ${r.evalLoss.toFixed(3)}`;
  const tps = Math.round(r.tokensPerSecond).toLocaleString('en-US');
  return `step ${r.step}/${r.totalSteps} [${bar}] loss ${r.loss.toFixed(3)}${evalPart} lr ${r.lr.toExponential(1)} ${tps} tok/s ETA ${duration(r.etaSeconds)}`;
}
