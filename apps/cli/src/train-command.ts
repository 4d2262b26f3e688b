/**
 * `baton train`: trains a GPT-2-architecture model with @baton/train (AdamW, warm-up + cosine
 * decay, gradient clipping, held-out eval, resumable Hugging Face checkpoints). Progress goes to
 * stderr (one line rewritten in place on a terminal, one line per report otherwise); the summary
 * (JSON) is the command's output.
 */
import { trainCommand as runTrain, TrainError, TRAIN_USAGE as USAGE } from '@baton/train';
import { CliError } from './cli-error.js';

/** One-line usage of the command. */
export const TRAIN_USAGE = USAGE;

/** Runs the train command; returns the run's summary. */
export async function trainCommand(args: string[]): Promise<string> {
  const tty = process.stderr.isTTY === true;
  let inPlace = false;
  const progress = (line: string): void => {
    const isBar = line.startsWith('step ');
    if (tty && isBar) {
      process.stderr.write(`\r${line}\x1b[K`);
      inPlace = true;
      return;
    }
    process.stderr.write(`${inPlace ? '\n' : ''}${line}\n`);
    inPlace = false;
  };
  try {
    return await runTrain(args, progress);
  } catch (e) {
    if (e instanceof TrainError) throw new CliError(e.message);
    throw e;
  } finally {
    if (inPlace) process.stderr.write('\n');
  }
}
