/**
 * Entry of a child process of `bench:elastic --parallel`: receives one run spec from the parent,
 * runs that configuration (elastic-run.ts) and answers with the run or its error, then exits.
 *
 * Invariant: exactly one answer per process; the process exits once it is sent.
 */
import { runElasticConfig, type ElasticChildMessage } from './elastic-run.js';

process.once('message', (m: ElasticChildMessage) => {
  if (m.kind !== 'run') return;
  const answer = (reply: ElasticChildMessage): void => {
    process.send?.(reply, () => process.exit(0));
  };
  runElasticConfig(m.spec).then(
    (run) => answer({ kind: 'done', run }),
    (e: unknown) => answer({ kind: 'failed', message: e instanceof Error ? `${e.name}: ${e.message}` : String(e) }),
  );
});
