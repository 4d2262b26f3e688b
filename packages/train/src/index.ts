/**
 * Public API of @baton/train: training GPT-2-architecture models with TensorFlow.js autograd
 * (AdamW, warm-up + cosine decay, gradient clipping, held-out eval, resumable Hugging Face
 * checkpoints) on byte-level corpora, and the `baton train` command.
 */

/** The `baton train` command. */
export { trainCommand, parseModelShape, TRAIN_USAGE } from './train-args.js';
/** The training loop. */
export { Trainer, type TrainerOptions, type TrainResult } from './trainer.js';
/** The differentiable model. */
export { TrainModel } from './train-model.js';
/** The optimiser and schedule. */
export { AdamW, ADAMW_DEFAULTS, type AdamWOptions } from './adamw.js';
export { learningRate, type LrSchedule } from './lr-schedule.js';
/** Data. */
export { readCorpus, splitCorpus, splitDocuments, encodeDocuments, END_OF_TEXT_MARKER, END_OF_TEXT_ID, BYTE_VOCAB_SIZE, type Corpus } from './corpus.js';
export { trainBatch, evalBatches, type Batch } from './batch-sampler.js';
export { readRDataStrings, type RValue } from './r-data.js';
/** Checkpoints. */
export { saveTrainCheckpoint, loadTrainCheckpoint, type TrainState, type HistoryPoint, type LoadedCheckpoint } from './train-checkpoint.js';
/** Backends and progress. */
export { initTrainBackend, TRAIN_BACKENDS, type TrainBackend } from './train-backend.js';
export { formatProgress, type ProgressReport } from './progress-bar.js';
/** Errors. */
export { TrainError, TrainOptionError, TrainDataError, TrainCheckpointError, TrainDivergedError } from './errors.js';
