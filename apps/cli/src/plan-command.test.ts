import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { CliError } from './cli-error.js';
import { planCommand } from './plan-command.js';
import { profileCommand } from './profile-command.js';

const profile = fileURLToPath(new URL('../../../packages/sim/profiles/h200-host-cpu16-baton-tiny-wasm.json', import.meta.url));

describe('baton plan', () => {
  it('prints the ranked configurations with the default for comparison', async () => {
    const out = await planCommand(['--profile', profile, '--workload', 'generate', '--slo-ttft', '500', '--slo-tpot', '5', '--devices', '1', '--requests', '32', '--top', '3']);
    expect(out).toMatch(/configurations simulated/);
    expect(out).toMatch(/\n1\s+1x (colocated|chunked)/);
    expect(out).toMatch(/\ndefault\s/);
    expect(out).toMatch(/recommended: 1x/);
  });

  it('rejects bad arguments with a one-line error naming the flag', async () => {
    await expect(planCommand(['--workload', 'chat'])).rejects.toThrow(/--profile/);
    await expect(planCommand(['--profile', profile, '--workload', 'poetry', '--slo-ttft', '1', '--slo-tpot', '1', '--devices', '2'])).rejects.toThrow(/--workload/);
    await expect(planCommand(['--profile', profile, '--workload', 'chat', '--slo-ttft', '1', '--slo-tpot', '1', '--devices', '0'])).rejects.toThrow(/--devices/);
    await expect(planCommand(['--profile', '/nonexistent.json', '--workload', 'chat', '--slo-ttft', '1', '--slo-tpot', '1', '--devices', '2'])).rejects.toThrow(CliError);
  });
});

describe('baton profile', () => {
  it('requires a model and a backend', async () => {
    await expect(profileCommand(['--backend', 'wasm'])).rejects.toThrow(/--model/);
    await expect(profileCommand(['--model', 'baton-tiny'])).rejects.toThrow(/--backend/);
    await expect(profileCommand(['--model', 'baton-tiny', '--backend', 'gpu9'])).rejects.toThrow(/backend/);
  });
});
