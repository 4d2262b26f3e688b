import { describe, expect, it } from 'vitest';
import { TrainOptionError } from './errors.js';
import { parseModelShape, trainCommand } from './train-args.js';

describe('baton train arguments', () => {
  it('parses LAYERSxWIDTHxHEADS into a byte-level config with the end-of-text id', () => {
    expect(parseModelShape('6x384x6', 1024)).toMatchObject({ nLayer: 6, nEmbd: 384, nHead: 6, nInner: 1536, vocabSize: 257, eosTokenId: 256, nPositions: 1024 });
    expect(() => parseModelShape('2x30x4', 64)).toThrow(/multiple of heads/);
    expect(() => parseModelShape('big', 64)).toThrow(TrainOptionError);
  });

  it('names the bad or missing option', async () => {
    await expect(trainCommand(['--out', 'x', '--model-config', '1x16x2', '--steps', '3'], () => {})).rejects.toThrow(/--data: required/);
    await expect(trainCommand(['--data', 'x', '--out', 'x', '--model-config', '1x16x2', '--steps', 'many'], () => {})).rejects.toThrow(/--steps: expected an integer >= 1, got "many"/);
    await expect(trainCommand(['--data', 'x', '--out', 'x', '--model-config', '1x16x2', '--steps', '3', '--backend', 'tpu'], () => {})).rejects.toThrow(/--backend: unknown "tpu"/);
    await expect(trainCommand(['--data', '/no/such/file', '--out', 'x', '--model-config', '1x16x2', '--steps', '3'], () => {})).rejects.toThrow(/no such file/);
  });
});
