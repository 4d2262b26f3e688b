/**
 * LengthPredictorActor: TetriInfer's output-length predictor as an actor. The scheduler asks it for
 * a request's output-length bucket while the request's prefill is queued or running, and tells it
 * every finished request's real length so it keeps learning online.
 * Invariant: deterministic for a given sequence of messages (seeded model, no clocks).
 */
import { Actor } from '@baton/actors';
import { LengthPredictor, type LengthPrediction, type LengthPredictorStats } from '../length-predictor.js';
import { InjectedFaultError } from '../fault-plan.js';
import type { PredictorMsg } from '../protocol.js';

/** Init of the length-predictor actor. */
export interface PredictorInit {
  bucketEdges?: number[];
  seed?: number;
  /** Fault injection: every prediction fails. */
  fails?: boolean;
}

/** Length-predictor actor (module default export, spawned by the engine). */
export default class LengthPredictorActor extends Actor<PredictorMsg, PredictorInit> {
  readonly #predictor = new LengthPredictor({ bucketEdges: this.init.bucketEdges, seed: this.init.seed });

  readonly handlers = {
    predict: (m: Extract<PredictorMsg, { type: 'predict' }>): LengthPrediction => {
      if (this.init.fails === true) throw new InjectedFaultError('length predictor failed');
      return this.#predictor.predict(m.promptIds);
    },
    learn: (m: Extract<PredictorMsg, { type: 'learn' }>): void => {
      this.#predictor.learn(m.promptIds, m.outputTokens);
    },
    stats: (): LengthPredictorStats => this.#predictor.stats(),
  };
}
