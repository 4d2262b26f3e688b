/**
 * `npm run bench:context` (node apps/bench/dist/context-bench.js [arguments]): the context-caching
 * comparison of context-comparison.ts, printed to stdout; exit status 0 done, 2 a bad argument,
 * 1 any other failure.
 */
import { CONTEXT_USAGE } from './context-bench-args.js';
import { contextBench } from './context-comparison.js';

process.exitCode = await contextBench(process.argv.slice(2), {
  name: 'bench:context',
  out: (line) => console.log(line),
  err: (line) => console.error(`${line}\n${CONTEXT_USAGE}`),
});
