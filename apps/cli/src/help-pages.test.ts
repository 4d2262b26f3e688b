import { DEFAULT_SERVER_OPTIONS } from '@baton/server';
import { DEFAULT_MODEL } from '@baton/model';
import { describe, expect, it } from 'vitest';
import { formatHelp, usageLine } from './command-help.js';
import { DEMO_OPTIONS } from './demo-command.js';
import { GENERATE_OPTIONS } from './generate-command.js';
import { DEMO_HELP, GENERATE_HELP, LOGITS_HELP, SERVE_HELP } from './help-pages.js';
import { LOGITS_OPTIONS } from './logits-command.js';
import { SERVE_OPTIONS } from './serve-command.js';

const PAGES = [
  [GENERATE_HELP, GENERATE_OPTIONS],
  [LOGITS_HELP, LOGITS_OPTIONS],
  [DEMO_HELP, DEMO_OPTIONS],
  [SERVE_HELP, SERVE_OPTIONS],
] as const;

describe('help pages', () => {
  it('document exactly the flags each command parses, with a value placeholder for every valued flag', () => {
    for (const [page, options] of PAGES) {
      expect(Object.keys(page.options).sort(), page.name).toEqual(Object.keys(options).sort());
      for (const [name, spec] of Object.entries(options)) {
        expect(page.options[name].value === undefined, `${page.name} --${name}`).toBe(spec.type === 'boolean');
      }
    }
  });

  it('show the defaults the code uses', () => {
    for (const page of [GENERATE_HELP, LOGITS_HELP, DEMO_HELP, SERVE_HELP]) expect(page.options.model.default).toBe(DEFAULT_MODEL);
    const d = DEFAULT_SERVER_OPTIONS;
    expect(SERVE_HELP.options['shutdown-deadline-ms'].default).toBe(String(d.shutdownDeadlineMs));
    expect(SERVE_HELP.options['headers-timeout-ms'].default).toBe(String(d.headersTimeoutMs));
    expect(SERVE_HELP.options['body-timeout-ms'].default).toMatch(new RegExp(`^${d.bodyTimeoutMs}\\b`));
    expect(SERVE_HELP.options['idle-timeout-ms'].default).toBe(String(d.idleTimeoutMs));
    expect(SERVE_HELP.options['max-connections'].default).toBe(String(d.maxConnections));
  });

  it('print one line per option with its default (or required / off / none) and wrap within 100 columns', () => {
    for (const [page] of PAGES) {
      const text = formatHelp(page);
      expect(text.split('\n').every((l) => l.length <= 100 || !l.includes(' ')), page.name).toBe(true);
      for (const [name, o] of Object.entries(page.options)) {
        const flag = o.value === undefined ? `--${name}` : `--${name} ${o.value}`;
        const at = text.indexOf(`  ${flag}`);
        expect(at, `${page.name} ${flag}`).toBeGreaterThan(-1);
        const entry = text.slice(at, text.indexOf('\n  --', at + 3)).replace(/\s+/g, ' ');
        expect(entry, `${page.name} ${flag}`).toMatch(/\((default: [^)]+|required)\)/);
      }
      expect(usageLine(page).startsWith(`baton ${page.name} `)).toBe(true);
    }
    expect(usageLine(LOGITS_HELP)).toBe('baton logits --ids 3,17,42 [--model DIR|NAME] [--backend wasm|cpu|webgpu|tensorflow]');
  });
});
