import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';

describe.skipIf(process.platform !== 'linux')('pinVulkanDrivers', () => {
  const dirs: string[] = [];
  afterEach(() => {
    vi.unstubAllEnvs();
    vi.resetModules();
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('pins the loadable libraries the named manifests list and skips the rest', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'icd-'));
    dirs.push(dir);
    const manifest = (name: string, body: string): string => {
      writeFileSync(join(dir, name), body);
      return join(dir, name);
    };
    const files = [
      manifest('ok.json', JSON.stringify({ ICD: { library_path: 'libz.so.1' } })),
      manifest('missing.json', JSON.stringify({ ICD: { library_path: 'libbaton-no-such-driver.so' } })),
      manifest('relative.json', JSON.stringify({ ICD: { library_path: './libnot-here.so' } })),
      manifest('broken.json', '{ not json'),
    ];
    vi.stubEnv('VK_DRIVER_FILES', files.join(':'));
    const { pinVulkanDrivers } = await import('./vulkan-pin.js');
    expect(pinVulkanDrivers()).toEqual(['libz.so.1']);
    // Once per thread: a second call answers from the first.
    expect(pinVulkanDrivers()).toEqual(['libz.so.1']);
  });

  it('reads every manifest of a named directory', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'icd-'));
    dirs.push(dir);
    writeFileSync(join(dir, 'a.json'), JSON.stringify({ ICD: { library_path: 'libz.so.1' } }));
    writeFileSync(join(dir, 'notes.txt'), 'not a manifest');
    vi.stubEnv('VK_DRIVER_FILES', dir);
    const { pinVulkanDrivers } = await import('./vulkan-pin.js');
    expect(pinVulkanDrivers()).toEqual(['libz.so.1']);
  });
});
