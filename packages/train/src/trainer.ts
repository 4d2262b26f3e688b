/**
 * Trainer: the training loop. Each step draws the step's batch, differentiates the mean
 * cross-entropy with tf.variableGrads, clips and applies AdamW at the scheduled learning rate;
 * every `evalEvery` steps (and at the end) it measures the loss on the fixed held-out batches;
 * every `checkpointEvery` steps (and at the end, or when the time budget runs out) it saves a
 * resumable checkpoint. Seeded: the same options, data and backend give the same loss curve, and
 * a run resumed from an F32 checkpoint continues it.
 * NOTE: a step's loss is read back while the next step is already queued, so a GPU backend is not
 * idle during the read-back; the progress line and history therefore trail the queue by one step.
 */
import * as tf from '@tensorflow/tfjs-core';
import { randomWeights, type GptConfig, type SafetensorsDtype } from '@baton/model';
import { AdamW, type AdamWOptions } from './adamw.js';
import { evalBatches, trainBatch, type Batch } from './batch-sampler.js';
import type { Corpus } from './corpus.js';
import { TrainCheckpointError, TrainDivergedError, TrainOptionError } from './errors.js';
import { learningRate, type LrSchedule } from './lr-schedule.js';
import type { ProgressReport } from './progress-bar.js';
import { saveTrainCheckpoint, type HistoryPoint, type LoadedCheckpoint, type TrainState } from './train-checkpoint.js';
import { TrainModel } from './train-model.js';

/** Everything a run needs. */
export interface TrainerOptions {
  corpus: Corpus;
  /** Model shape; ignored (taken from the checkpoint) when resuming. */
  config: GptConfig;
  /** Total optimiser steps of the run (a resume continues up to this). */
  steps: number;
  /** Rows (windows) per optimiser step. */
  batch: number;
  /**
   * Micro-batches per step (default 1): the step's `batch` rows are run as `accumulate` forward and
   * backward passes of `batch / accumulate` rows whose gradients are averaged, so a large batch
   * fits a device's memory. The same rows are drawn either way, so the curve does not depend on it
   * beyond rounding.
   */
  accumulate?: number;
  context: number;
  schedule: Omit<LrSchedule, 'total'>;
  adamw: AdamWOptions;
  evalEvery: number;
  evalBatches: number;
  seed: number;
  /** Checkpoint directory, or null to keep everything in memory. */
  out: string | null;
  /** Steps between checkpoints (0: only at the end). */
  checkpointEvery: number;
  /** dtype of model.safetensors (F32 resumes exactly). */
  dtype: SafetensorsDtype;
  resume: LoadedCheckpoint | null;
  /** Stop (and save) once this much wall time has passed in this stretch; null: no limit. */
  maxSeconds: number | null;
  /** Stop (and save) after this many steps in this stretch (a resume continues); null: no limit. */
  stretchSteps?: number | null;
  /** Steps between progress reports (default 10). */
  reportEvery?: number;
  onProgress?: (report: ProgressReport) => void;
}

/** What a finished (or stopped) run reports. */
export interface TrainResult {
  steps: number;
  history: HistoryPoint[];
  /** Last training loss (nats per token). */
  loss: number;
  /** Last held-out loss (nats per token). */
  evalLoss: number;
  seconds: number;
  tokensPerSecond: number;
  parameterCount: number;
  /** True when the time budget or stretch length ended this stretch before `steps`. */
  stoppedEarly: boolean;
}

/** Rows `from` .. `from + rows - 1` of a batch. */
function microBatch(b: Batch, from: number, rows: number): Batch {
  const T = b.context;
  return {
    inputs: b.inputs.subarray(from * T, (from + rows) * T), targets: b.targets.subarray(from * T, (from + rows) * T),
    batch: rows, context: T, offsets: b.offsets.subarray(from, from + rows),
  };
}

/** A training run over one model. */
export class Trainer {
  readonly model: TrainModel;
  /** True when the run continues a checkpoint's schedule (it has train state and optimiser moments); false for a new run. */
  readonly continues: boolean;
  readonly #opt: AdamW;
  readonly #o: TrainerOptions;
  readonly #evalSet: Batch[];
  readonly #state: TrainState;

  constructor(o: TrainerOptions) {
    this.#o = o;
    const r = o.resume;
    const run = { seed: o.seed, batch: o.batch, context: o.context, trainTokens: o.corpus.train.length, evalTokens: o.corpus.eval.length };
    // NOTE: a checkpoint without optimiser moments (a float16 export, a shipped model) cannot continue its schedule: its weights start a new run.
    this.continues = r !== null && r.state !== null && r.optimizer !== null;
    if (r !== null && r.state !== null && this.continues) {
      for (const k of Object.keys(run) as (keyof typeof run)[]) {
        if (r.state.run[k] !== run[k]) throw new TrainCheckpointError('--resume', `was trained with ${k} ${r.state.run[k]}, this run has ${run[k]}; a resume needs the same data and options`);
      }
      if (r.state.step > o.steps) throw new TrainOptionError('--steps', `${o.steps} is below the checkpoint's ${r.state.step} steps`);
    }
    const config = r?.config ?? o.config;
    const acc = o.accumulate ?? 1;
    if (!Number.isInteger(acc) || acc < 1 || o.batch % acc !== 0) throw new TrainOptionError('--accumulate', `${acc} must be a positive integer that divides --batch ${o.batch}`);
    if (o.context > config.nPositions) throw new TrainOptionError('--context', `${o.context} exceeds the model's ${config.nPositions} positions`);
    this.model = new TrainModel(config, r?.weights ?? randomWeights(config, o.seed));
    this.#opt = new AdamW(this.model.variables, o.adamw);
    if (this.continues && r?.optimizer != null && r.state !== null) this.#opt.restore(r.state.step, r.optimizer);
    this.#state = this.continues && r?.state != null ? structuredClone(r.state) : { step: 0, run, history: [], seconds: 0, tokensSeen: 0 };
    // NOTE: eval batches have the micro-batch's rows; the windows are the same as `evalBatches` batches of `batch` rows.
    this.#evalSet = evalBatches(o.corpus.eval, { batch: o.batch / acc, context: o.context, count: o.evalBatches * acc });
  }

  /** Steps done so far. */
  get step(): number {
    return this.#state.step;
  }

  private schedule(): LrSchedule {
    return { ...this.#o.schedule, total: this.#o.steps };
  }

  private tensors(b: Batch): { ids: tf.Tensor2D; targets: tf.Tensor2D; offsets: tf.Tensor1D | undefined } {
    return {
      ids: tf.tensor2d(b.inputs, [b.batch, b.context], 'int32'),
      targets: tf.tensor2d(b.targets, [b.batch, b.context], 'int32'),
      offsets: b.offsets.some((o) => o !== 0) ? tf.tensor1d(b.offsets, 'int32') : undefined,
    };
  }

  /** Mean loss over the fixed held-out batches. */
  async evalLoss(): Promise<number> {
    let sum = 0;
    for (const b of this.#evalSet) {
      const loss = tf.tidy(() => {
        const { ids, targets } = this.tensors(b);
        return this.model.loss(ids, targets);
      });
      sum += (await loss.data())[0];
      loss.dispose();
    }
    return sum / this.#evalSet.length;
  }

  /** Queues one optimiser step; returns its loss (a scalar tensor the caller reads and disposes). */
  private queueStep(): tf.Scalar {
    const step = this.#state.step;
    const acc = this.#o.accumulate ?? 1;
    const b = trainBatch(this.#o.corpus.train, { batch: this.#o.batch, context: this.#o.context, seed: this.#o.seed, step, positions: this.model.config.nPositions });
    const vars = [...this.model.variables.values()];
    const rows = b.batch / acc;
    const sums = new Map<string, tf.Tensor>();
    let lossSum: tf.Scalar | null = null;
    for (let m = 0; m < acc; m++) {
      const part = acc === 1 ? b : microBatch(b, m * rows, rows);
      const { ids, targets, offsets } = this.tensors(part);
      const { value, grads } = tf.variableGrads(() => this.model.loss(ids, targets, offsets), vars);
      for (const [name, v] of this.model.variables) {
        const g = grads[v.name];
        const prev = sums.get(name);
        if (prev === undefined) {
          sums.set(name, g);
        } else {
          sums.set(name, tf.add(prev, g));
          prev.dispose();
          g.dispose();
        }
      }
      const prevLoss: tf.Scalar | null = lossSum;
      lossSum = prevLoss === null ? value : (tf.add(prevLoss, value) as tf.Scalar);
      if (prevLoss !== null) {
        prevLoss.dispose();
        value.dispose();
      }
      for (const t of [ids, targets]) t.dispose();
      offsets?.dispose();
    }
    if (acc > 1) {
      for (const [name, g] of sums) {
        sums.set(name, tf.mul(g, 1 / acc));
        g.dispose();
      }
    }
    const { gradNorm } = this.#opt.apply(sums, learningRate(this.schedule(), step));
    for (const t of [gradNorm, ...sums.values()]) t.dispose();
    this.#state.step += 1;
    const total = lossSum as tf.Scalar;
    if (acc === 1) return total;
    const mean = tf.mul(total, 1 / acc) as tf.Scalar;
    total.dispose();
    return mean;
  }

  /** Saves a checkpoint of the current state to `dir` (default: the run's out directory). */
  async save(dir = this.#o.out, dtype = this.#o.dtype): Promise<void> {
    if (dir === null) return;
    const weights = await this.model.toWeights();
    const { tensors } = await this.#opt.state();
    saveTrainCheckpoint(dir, { config: this.model.config, weights }, tensors, this.#state, dtype);
  }

  /** Trains up to `steps` (or the time budget); saves the final checkpoint when `out` is set. */
  async run(): Promise<TrainResult> {
    const o = this.#o;
    const every = o.reportEvery ?? 10;
    const started = performance.now();
    let windowStart = started;
    let windowTokens = 0;
    let evalLoss = this.#state.history.findLast((h) => h.evalLoss !== undefined)?.evalLoss ?? Number.NaN;
    let ema = this.#state.history.at(-1)?.loss ?? Number.NaN;
    let tps = 0;
    let stoppedEarly = false;
    let pending: { step: number; loss: tf.Scalar; lr: number } | null = null;
    const record = async (p: { step: number; loss: tf.Scalar; lr: number }): Promise<void> => {
      const loss = (await p.loss.data())[0];
      p.loss.dispose();
      // NOTE: nothing recovers from a non-finite loss (every later step is NaN too), so the run stops instead of spending its time.
      if (!Number.isFinite(loss)) throw new TrainDivergedError(p.step + 1, loss);
      ema = Number.isNaN(ema) ? loss : 0.9 * ema + 0.1 * loss;
      const point: HistoryPoint = { step: p.step + 1, loss, lr: p.lr };
      this.#state.history.push(point);
      const done = p.step + 1;
      const reportDue = o.onProgress !== undefined && (done % every === 0 || done === o.steps);
      if (reportDue) {
        // NOTE: measured before this step's eval, and the window restarts after it: evals never count as training time.
        const secs = (performance.now() - windowStart) / 1000;
        if (secs > 0 && windowTokens > 0) tps = windowTokens / secs;
      }
      const evalDue = done % o.evalEvery === 0 || done === o.steps;
      if (evalDue) {
        evalLoss = await this.evalLoss();
        point.evalLoss = evalLoss;
      }
      if (reportDue) {
        const perStep = tps > 0 ? (o.batch * o.context) / tps : Number.NaN;
        o.onProgress?.({ step: done, totalSteps: o.steps, loss: ema, evalLoss: Number.isNaN(evalLoss) ? null : evalLoss, lr: p.lr, tokensPerSecond: tps, etaSeconds: perStep * (o.steps - done) });
      }
      if (reportDue || evalDue) {
        windowStart = performance.now();
        windowTokens = 0;
      }
    };
    const stopAt = Math.min(o.steps, this.#state.step + (o.stretchSteps ?? o.steps));
    while (this.#state.step < stopAt) {
      const step = this.#state.step;
      const loss = this.queueStep();
      windowTokens += o.batch * o.context;
      this.#state.tokensSeen += o.batch * o.context;
      if (pending !== null) await record(pending);
      pending = { step, loss, lr: learningRate(this.schedule(), step) };
      const done = this.#state.step;
      if (o.checkpointEvery > 0 && done % o.checkpointEvery === 0 && done < o.steps) {
        await record(pending);
        pending = null;
        await this.save();
      }
      if (o.maxSeconds !== null && (performance.now() - started) / 1000 >= o.maxSeconds && done < o.steps) {
        stoppedEarly = true;
        break;
      }
    }
    if (pending !== null) await record(pending);
    stoppedEarly ||= this.#state.step < o.steps;
    if (stoppedEarly || Number.isNaN(evalLoss)) {
      evalLoss = await this.evalLoss();
      const last = this.#state.history.at(-1);
      if (last !== undefined) last.evalLoss = evalLoss;
    }
    const seconds = (performance.now() - started) / 1000;
    this.#state.seconds += seconds;
    await this.save();
    const last = this.#state.history.at(-1);
    return {
      steps: this.#state.step, history: this.#state.history, loss: last?.loss ?? Number.NaN, evalLoss, seconds: this.#state.seconds,
      tokensPerSecond: this.#state.tokensSeen / Math.max(1e-9, this.#state.seconds), parameterCount: this.model.parameterCount, stoppedEarly,
    };
  }

  /** Frees the model and optimiser state. */
  dispose(): void {
    this.#opt.dispose();
    this.model.dispose();
  }
}
