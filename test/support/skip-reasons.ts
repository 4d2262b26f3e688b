/**
 * Why tests are skipped: the registry the skipped-tests reporter reads, so `npm test` ends with
 * which tests did not run and what would make them run. A skipped test's reason is, in order: the
 * note given to `ctx.skip(note)`; the first registry entry matching its file (and title, when the
 * entry has one); the title of the skipped block. Invariant: pure data and functions (the reporter
 * and its test import it; no test state).
 *
 * To skip a test conditionally, use `describe.skipIf(condition)` / `it.skipIf(condition)` (or
 * `runIf`) and add an entry here naming the condition in words a user can act on.
 */

/** One registered reason. */
export interface SkipReason {
  /** Matches the test file's path relative to the repository root (forward slashes). */
  file: RegExp;
  /** Matches the test's full name (suites and test joined by ` > `); any test of the file when absent. */
  title?: RegExp;
  /** What is missing and how to run the tests anyway. */
  reason: string;
}

/** Every conditional skip of the suite. */
export const SKIP_REASONS: readonly SkipReason[] = [
  {
    file: /^packages\/model\/src\/gpu\/fast-pipeline\.test\.ts$/,
    reason: 'opt-in WebGPU: run with BATON_TEST_WEBGPU=1 on a machine with a GPU adapter (or Vulkan lavapipe, see gpu/README.md)',
  },
  {
    file: /^(packages\/model\/src\/fixture\.test\.ts|test\/engine\/modes\.test\.ts)$/,
    reason: 'reference checkpoint missing: put the Hugging Face fixture at ../shared/fixtures/gpt2-tiny-bytes (next to the repository)',
  },
  {
    file: /^(packages\/model\/src\/gpu\/vulkan-pin\.test\.ts|packages\/actors\/src\/thread-priority\.test\.ts)$/,
    reason: 'Linux only (Vulkan driver pinning, per-thread nice values)',
  },
  {
    file: /^apps\/cli\/src\/cli\.test\.ts$/,
    title: /GPU adapter/,
    reason: 'Linux only (hides every GPU adapter through VK_DRIVER_FILES)',
  },
];

/** What the reporter knows about one skipped test. */
export interface SkippedTest {
  /** Path relative to the repository root. */
  file: string;
  /** Suites and test name joined by ` > `. */
  fullName: string;
  /** The note of `ctx.skip(note)`, if any. */
  note?: string;
  /** Title of the outermost skipped suite or test (the block that was skipped). */
  block: string;
}

/** The reason a skipped test did not run. */
export function skipReasonFor(test: SkippedTest, registry: readonly SkipReason[] = SKIP_REASONS): string {
  if (test.note !== undefined && test.note !== '') return test.note;
  const entry = registry.find((r) => r.file.test(test.file) && (r.title === undefined || r.title.test(test.fullName)));
  return entry?.reason ?? `skipped: "${test.block}" (no reason registered in test/support/skip-reasons.ts)`;
}

/** Skipped tests grouped by reason, then by file and skipped block, as printable lines. */
export function formatSkipped(tests: readonly SkippedTest[], registry: readonly SkipReason[] = SKIP_REASONS): string[] {
  if (tests.length === 0) return [];
  const byReason = new Map<string, Map<string, number>>();
  for (const t of tests) {
    const reason = skipReasonFor(t, registry);
    const blocks = byReason.get(reason) ?? new Map<string, number>();
    const key = `${t.file} > ${t.block}`;
    blocks.set(key, (blocks.get(key) ?? 0) + 1);
    byReason.set(reason, blocks);
  }
  const lines = [`Skipped ${tests.length} test${tests.length === 1 ? '' : 's'}:`];
  for (const [reason, blocks] of byReason) {
    lines.push(`  ${reason}`);
    for (const [block, n] of blocks) lines.push(`    ${block} (${n} test${n === 1 ? '' : 's'})`);
  }
  return lines;
}
