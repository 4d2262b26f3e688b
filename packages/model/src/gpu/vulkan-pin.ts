/**
 * Keeps the process's Vulkan drivers loaded for good (Linux): every driver library named by the
 * Vulkan loader's ICD manifests is dlopen'ed once with RTLD_NODELETE, so no later dlclose unloads it.
 * NOTE: why: each GPU host thread has its own Dawn instance; when the last one in the process is
 * destroyed (an engine closing its actors), the Vulkan loader dlcloses the driver, and the next
 * engine loads it again. On the H200 (NVIDIA 580, libGLX_nvidia.so.0) that cycle crashed the
 * process with SIGSEGV once every ~20 engine closes; with the driver kept loaded (LD_PRELOAD in
 * that experiment) 45 closes ran clean (gpu/README.md, round 3).
 * Invariant: best effort and idempotent: a manifest or library that cannot be read is skipped
 * (WebGPU then reports its own adapter errors).
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { constants } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';

/** glibc's RTLD_NODELETE (not among os.constants.dlopen). */
const RTLD_NODELETE = 0x1000;
/** Where the Vulkan loader looks for ICD manifests when no environment variable names them. */
const DEFAULT_DIRS = ['/usr/local/etc/vulkan/icd.d', '/usr/local/share/vulkan/icd.d', '/etc/vulkan/icd.d', '/usr/share/vulkan/icd.d'];

let pinned: string[] | null = null;

/** Pins the Vulkan driver libraries (once per thread; dlopen is process-wide); returns what was pinned. */
export function pinVulkanDrivers(): string[] {
  if (pinned !== null) return pinned;
  pinned = [];
  if (process.platform !== 'linux') return pinned;
  for (const manifest of manifests()) {
    const lib = libraryOf(manifest);
    if (lib !== null && pin(lib)) pinned.push(lib);
  }
  return pinned;
}

/** The ICD manifest files: VK_DRIVER_FILES / VK_ICD_FILENAMES (files or directories), else the default directories. */
function manifests(): string[] {
  const named = process.env['VK_DRIVER_FILES'] ?? process.env['VK_ICD_FILENAMES'] ?? '';
  const entries = named !== '' ? named.split(':').filter((p) => p !== '') : DEFAULT_DIRS;
  return entries.flatMap((p) => {
    if (!existsSync(p)) return [];
    if (!statSync(p).isDirectory()) return [p];
    return readdirSync(p).filter((f) => f.endsWith('.json')).map((f) => join(p, f));
  });
}

/** The driver library a manifest names (a path relative to the manifest's directory, or a soname). */
function libraryOf(manifest: string): string | null {
  try {
    const lib = (JSON.parse(readFileSync(manifest, 'utf8')) as { ICD?: { library_path?: unknown } }).ICD?.library_path;
    if (typeof lib !== 'string' || lib === '') return null;
    return lib.includes('/') && !isAbsolute(lib) ? join(dirname(manifest), lib) : lib;
  } catch {
    return null;
  }
}

/** dlopen with RTLD_NODELETE; true when the library is loaded. */
function pin(lib: string): boolean {
  try {
    process.dlopen({ exports: {} }, lib, constants.dlopen.RTLD_LAZY | RTLD_NODELETE);
    return true;
  } catch (e) {
    // NOTE: the library loads, but it is no Node addon: Node reports that and calls dlclose, which
    // RTLD_NODELETE turns into a no-op. Any other message means it could not be loaded.
    return e instanceof Error && e.message.includes('did not self-register');
  }
}
