import { describe, expect, it } from 'vitest';
import { ApiKeyCheck } from './api-key-check.js';

describe('ApiKeyCheck', () => {
  const check = new ApiKeyCheck('sk-test-123');

  it('accepts the key as a Bearer token (scheme in any case)', () => {
    expect(check.allows('Bearer sk-test-123')).toBe(true);
    expect(check.allows('bearer sk-test-123')).toBe(true);
  });

  it('refuses a missing, wrong, longer, shorter or differently schemed key', () => {
    for (const h of [undefined, '', 'Bearer', 'Bearer ', 'Bearer sk-test-12', 'Bearer sk-test-1234', 'Bearer SK-TEST-123', 'Basic sk-test-123', 'sk-test-123', 'Bearer sk-test-123 extra']) {
      expect(check.allows(h), String(h)).toBe(false);
    }
  });
});
