/**
 * createServer: Baton's OpenAI-compatible HTTP server on fastify, embeddable in any Node service.
 * Routes: POST /v1/completions, POST /v1/chat/completions, GET /v1/models, GET /health,
 * GET /metrics (Prometheus text).
 *
 * Invariants: the server owns its engine (close() stops every actor); once close() begins, new
 * requests get 503 while the ones in flight may finish until the deadline, after which the engine
 * aborts them; every error response is an OpenAI-style error object.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import { createEngine, type EngineOptionsInput } from '@baton/engine';
import { registerChatRoute } from './chat-route.js';
import { registerCompletionRoute } from './completion-route.js';
import { ApiError, shuttingDown, toApiError } from './openai-error.js';
import { ServerMetrics } from './server-metrics.js';
import type { ServingEngine } from './serving-engine.js';

/** Options of {@link createServer}. */
export interface ServerOptions {
  /** The engine to serve (the server takes ownership). Default: `createEngine(engineOptions)`. */
  engine?: ServingEngine;
  /** Options for the engine the server creates when `engine` is absent. */
  engineOptions?: EngineOptionsInput;
  /** The model id clients name (`model` field, GET /v1/models). Default: the engine's `options.model`. */
  modelName?: string;
  /** Largest request body accepted, bytes (default 1 MiB). */
  bodyLimitBytes?: number;
  /** In-flight requests still running this long after close() began are aborted (default 10 000 ms). */
  shutdownDeadlineMs?: number;
}

/** Where a server listens. */
export interface ListenOptions {
  host?: string;
  /** 0 picks a free port. */
  port?: number;
}

const DEFAULT_BODY_LIMIT = 1024 * 1024;
const DEFAULT_SHUTDOWN_DEADLINE_MS = 10_000;

/** A running server. Create with {@link createServer}. */
export class BatonServer {
  readonly #metrics = new ServerMetrics();
  #closing: Promise<void> | null = null;

  /** @internal use createServer. */
  constructor(
    /** The fastify instance (for `inject` in tests, or adding routes). */
    readonly app: FastifyInstance,
    /** The engine it serves. */
    readonly engine: ServingEngine,
    /** The model id clients use. */
    readonly modelName: string,
    private readonly shutdownDeadlineMs: number,
  ) {}

  /** True once close() began. */
  get closing(): boolean {
    return this.#closing !== null;
  }

  /** Starts listening; resolves with the base URL (`http://127.0.0.1:8000`). */
  async listen(options: ListenOptions = {}): Promise<string> {
    const host = options.host ?? '127.0.0.1';
    await this.app.listen({ host, port: options.port ?? 8000 });
    const address = this.app.server.address();
    const port = typeof address === 'object' && address !== null ? address.port : options.port;
    return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  }

  /** Graceful shutdown: refuse new requests, drain until the deadline, abort the rest, stop every actor. */
  close(): Promise<void> {
    this.#closing ??= Promise.all([
      this.engine.close({ deadlineMs: this.shutdownDeadlineMs }),
      this.app.close(),
    ]).then(() => undefined);
    return this.#closing;
  }

  /** @internal wires the routes (called once by createServer). */
  setup(): void {
    const app = this.app;
    const deps = { engine: this.engine, metrics: this.#metrics, closing: () => this.closing, modelName: this.modelName };
    app.addHook('onRequest', async (req) => {
      if (this.closing && req.url !== '/metrics') throw shuttingDown();
    });
    app.setErrorHandler((error, _req, reply) => {
      const api = toApiError(error);
      void reply.code(api.status).headers(api.headers).send(api.body());
    });
    app.setNotFoundHandler((req, reply) => {
      const api = new ApiError({ status: 404, type: 'invalid_request_error', code: 'not_found', message: `no route for ${req.method} ${req.url}` });
      void reply.code(404).send(api.body());
    });
    registerCompletionRoute(app, deps);
    registerChatRoute(app, deps);
    app.get('/v1/models', async () => ({
      object: 'list',
      data: [{ id: this.modelName, object: 'model', created: 0, owned_by: 'baton' }],
    }));
    app.get('/health', async () => ({ status: 'ok', mode: this.engine.options.mode, backend: this.engine.backend }));
    app.get('/metrics', async (_req, reply) => {
      const stats = this.closing ? null : await this.engine.stats().catch(() => null);
      void reply.type('text/plain; version=0.0.4; charset=utf-8').send(this.#metrics.render(stats));
    });
  }
}

/** Builds the server (and its engine unless one is given). Call `listen()` to serve. */
export async function createServer(options: ServerOptions = {}): Promise<BatonServer> {
  const engine = options.engine ?? (await createEngine(options.engineOptions ?? {}));
  // NOTE: return503OnClosing is off so requests that arrive while closing get our OpenAI-style 503.
  const app = Fastify({ bodyLimit: options.bodyLimitBytes ?? DEFAULT_BODY_LIMIT, logger: false, return503OnClosing: false });
  const server = new BatonServer(app, engine, options.modelName ?? engine.options.model, options.shutdownDeadlineMs ?? DEFAULT_SHUTDOWN_DEADLINE_MS);
  server.setup();
  return server;
}
