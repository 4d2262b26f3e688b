import { describe, expect, it } from 'vitest';
import { BackendUnavailableError, initBackend, parseBackendName } from './index.js';

describe('backends', () => {
  it('activates wasm and cpu and reports the active backend', async () => {
    expect((await initBackend('cpu')).tfBackend).toBe('cpu');
    expect((await initBackend('wasm')).name).toBe('wasm');
  });

  it('says what is missing and how to install it when tensorflow cannot load', async () => {
    const err = await initBackend('tensorflow').catch((e: unknown) => e);
    // NOTE: tfjs-node is optional and not installed here; if a machine has it, initBackend succeeds.
    if (err instanceof Error) {
      expect(err).toBeInstanceOf(BackendUnavailableError);
      expect(err.message).toMatch(/tfjs-node.*npm install @tensorflow\/tfjs-node/s);
    }
  });

  it('says what is missing when webgpu has no GPU', async () => {
    const err = await initBackend('webgpu').catch((e: unknown) => e);
    if (err instanceof Error) {
      expect(err).toBeInstanceOf(BackendUnavailableError);
      // Either the packages are missing (install hint) or they load and the machine has no adapter.
      expect(err.message).toMatch(/backend "webgpu"( cannot load: .*Install it with: npm install|: no GPU adapter was found \()/);
    }
  });

  it('rejects unknown backend names', () => {
    expect(() => parseBackendName('tpu', '--backend')).toThrow(/--backend: unknown backend "tpu"/);
  });
});
