/**
 * Vitest reporter that prints, once at the end of a run, which tests were skipped and why (the
 * reasons come from `skip-reasons.ts`), so a "N skipped" count never needs a rerun with
 * `--reporter=verbose`. Runs next to the default reporter (vitest.config.ts). Invariants: prints
 * nothing when nothing was skipped; tests left out by a `-t` name filter are not "skipped" and are
 * not listed.
 */
import { relative, sep } from 'node:path';
import type { Reporter, TestCase, TestModule, TestSuite, Vitest } from 'vitest/node';
import { formatSkipped, type SkippedTest } from './skip-reasons.js';

/** Lists skipped tests with their reasons after the run summary. */
export default class SkippedTestsReporter implements Reporter {
  #vitest: Vitest | null = null;

  onInit(vitest: Vitest): void {
    this.#vitest = vitest;
  }

  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    const vitest = this.#vitest;
    if (vitest === null) return;
    const root = vitest.config.root;
    const pattern = vitest.config.testNamePattern;
    const skipped: SkippedTest[] = [];
    for (const module of testModules) {
      for (const test of module.children.allTests()) {
        const result = test.result();
        if (result.state !== 'skipped') continue;
        if (pattern !== undefined && !pattern.test(test.fullName)) continue;
        skipped.push({
          file: relative(root, module.moduleId).split(sep).join('/'),
          fullName: test.fullName,
          ...(result.note === undefined ? {} : { note: result.note }),
          block: skippedBlock(test),
        });
      }
    }
    const lines = formatSkipped(skipped);
    if (lines.length > 0) vitest.logger.log(['', ...lines, ''].join('\n'));
  }
}

/** The title of the outermost skipped suite around `test`, or the test's own name. */
function skippedBlock(test: TestCase): string {
  let block: TestCase | TestSuite = test;
  for (let parent = test.parent; parent.type === 'suite'; parent = parent.parent) {
    if (parent.options.mode === 'skip' || parent.options.mode === 'todo') block = parent;
  }
  return block.name;
}
