/**
 * Shared `--model` / `--backend` handling: activates the backend, loads the model (a checkpoint
 * directory or a built-in name; the built-in default when absent).
 */
import { DEFAULT_MODEL, initBackend, parseBackendName, loadModel, defaultBackendName, type BackendInfo, type Gpt } from '@baton/model';

/** parseArgs option specs for --model and --backend. */
export const MODEL_OPTIONS = {
  model: { type: 'string' },
  backend: { type: 'string' },
} as const;

/** Initialises the backend named by --backend (else BATON_BACKEND, else wasm) and loads --model. */
export async function openModel(values: { model?: string; backend?: string }): Promise<{ model: Gpt; backend: BackendInfo }> {
  const name = values.backend === undefined ? defaultBackendName() : parseBackendName(values.backend, '--backend');
  const backend = await initBackend(name);
  const model = await loadModel(values.model ?? DEFAULT_MODEL);
  return { model, backend };
}
