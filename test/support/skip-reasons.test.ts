import { describe, expect, it } from 'vitest';
import { formatSkipped, skipReasonFor, SKIP_REASONS, type SkipReason } from './skip-reasons.js';

const registry: SkipReason[] = [
  { file: /^a\/gpu\.test\.ts$/, title: /WebGPU/, reason: 'needs a GPU' },
  { file: /^a\/gpu\.test\.ts$/, reason: 'other gpu tests' },
];

describe('skip reasons', () => {
  it('prefers the ctx.skip note, then the registry (file and title), then names the skipped block', () => {
    expect(skipReasonFor({ file: 'a/gpu.test.ts', fullName: 'WebGPU > x', block: 'WebGPU', note: 'no adapter' }, registry)).toBe('no adapter');
    expect(skipReasonFor({ file: 'a/gpu.test.ts', fullName: 'WebGPU > x', block: 'WebGPU' }, registry)).toBe('needs a GPU');
    expect(skipReasonFor({ file: 'a/gpu.test.ts', fullName: 'pins > y', block: 'pins' }, registry)).toBe('other gpu tests');
    expect(skipReasonFor({ file: 'b.test.ts', fullName: 'z', block: 'z' }, registry)).toMatch(/"z" \(no reason registered in test\/support\/skip-reasons\.ts\)/);
  });

  it('groups by reason, then by file and block, with counts', () => {
    const lines = formatSkipped([
      { file: 'a/gpu.test.ts', fullName: 'WebGPU > x', block: 'WebGPU' },
      { file: 'a/gpu.test.ts', fullName: 'WebGPU > y', block: 'WebGPU' },
      { file: 'b.test.ts', fullName: 'z', block: 'z' },
    ], registry);
    expect(lines).toEqual([
      'Skipped 3 tests:',
      '  needs a GPU',
      '    a/gpu.test.ts > WebGPU (2 tests)',
      '  skipped: "z" (no reason registered in test/support/skip-reasons.ts)',
      '    b.test.ts > z (1 test)',
    ]);
    expect(formatSkipped([], registry)).toEqual([]);
  });

  it('registers a reason for the WebGPU opt-in and the missing reference checkpoint', () => {
    expect(skipReasonFor({ file: 'packages/model/src/gpu/fast-pipeline.test.ts', fullName: 'x', block: 'x' })).toMatch(/BATON_TEST_WEBGPU=1/);
    expect(skipReasonFor({ file: 'test/engine/modes.test.ts', fullName: 'x', block: 'x' })).toMatch(/shared\/fixtures/);
    expect(skipReasonFor({ file: 'packages/model/src/fixture.test.ts', fullName: 'x', block: 'x' })).toMatch(/shared\/fixtures/);
    expect(SKIP_REASONS.every((r) => r.reason.length > 0)).toBe(true);
  });
});
