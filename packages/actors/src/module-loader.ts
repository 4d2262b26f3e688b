/**
 * Turning a user's `module` option into a loadable URL, and loading an actor class from it.
 * Missing files and missing or wrong exports become `ActorModuleNotFoundError`s naming the module.
 */
import { existsSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { isActorClass, type ActorClass } from './actor.js';
import { ActorModuleNotFoundError, InvalidActorOptionsError } from './errors.js';

/** Resolves `module` (URL, `file:` URL string, or absolute path) and checks that the file exists. */
export function resolveModuleUrl(module: URL | string, option = 'module'): string {
  let url: URL;
  if (module instanceof URL) url = module;
  else if (typeof module === 'string' && isAbsolute(module)) url = pathToFileURL(module);
  else if (typeof module === 'string' && /^[a-z][a-z0-9+.-]*:/i.test(module)) url = new URL(module);
  else throw new InvalidActorOptionsError(option, `expected a URL or an absolute path, got ${JSON.stringify(module)}`);
  if (url.protocol === 'file:' && !existsSync(fileURLToPath(url))) {
    throw new ActorModuleNotFoundError(url.href, 'does not exist');
  }
  return url.href;
}

/** Imports `moduleUrl` and returns its actor class export `exportName`. */
export async function loadActorClass(moduleUrl: string, exportName: string): Promise<ActorClass> {
  let exports: Record<string, unknown>;
  try {
    exports = (await import(moduleUrl)) as Record<string, unknown>;
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === 'ERR_MODULE_NOT_FOUND') throw new ActorModuleNotFoundError(moduleUrl, `could not be loaded: ${(error as Error).message}`);
    throw error;
  }
  const candidate = exports[exportName];
  if (!isActorClass(candidate)) {
    throw new ActorModuleNotFoundError(moduleUrl, `has no export '${exportName}' that is a class extending Actor`);
  }
  return candidate;
}
