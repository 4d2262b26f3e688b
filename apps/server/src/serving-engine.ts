/**
 * ServingEngine: the part of an engine the HTTP server uses. `@baton/engine`'s in-process
 * `Engine` satisfies it, and so does the multi-process deployment; the server never depends on
 * how the actors are laid out.
 */
import type { CloseOptions, EngineOptions, EngineStats, GenerateRequest, Generation } from '@baton/engine';
import type { BackendName, GptConfig } from '@baton/model';

/** What the server needs from an engine (structural, so tests can stand in their own). */
export interface ServingEngine {
  readonly options: EngineOptions;
  readonly config: GptConfig;
  readonly backend: BackendName;
  /** Starts a request; throws InvalidRequestError / EngineClosedError at once. */
  generate(request: GenerateRequest): Generation;
  /** Numbers from every actor. */
  stats(): Promise<EngineStats>;
  /** Drains until the deadline, aborts the rest, stops every actor. */
  close(options?: CloseOptions): Promise<void>;
}
