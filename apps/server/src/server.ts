/**
 * createServer: Baton's OpenAI-compatible HTTP server on fastify, embeddable in any Node service.
 * Routes: POST /v1/completions, POST /v1/chat/completions, GET /v1/models, GET /health,
 * GET /metrics (Prometheus text).
 *
 * Invariants: the server owns its engine (close() stops every actor); once close() begins, the
 * listener stays open and new requests get 503 while the ones in flight may finish until the
 * deadline, after which the engine aborts them; only then does the listener close. Every
 * response that is not a success carries an OpenAI error body — route errors, framework errors,
 * and the ones Node's HTTP parser raises before a route runs (see raw-error-response.ts).
 */
import type { Socket } from 'node:net';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { createEngine } from '@baton/engine';
import { ApiKeyCheck } from './api-key-check.js';
import { registerChatRoute } from './chat-route.js';
import { registerCompletionRoute } from './completion-route.js';
import { ConnectionGuard } from './connection-guard.js';
import { HostCheck, isLoopbackHost } from './host-check.js';
import { ApiError, shuttingDown, toApiError } from './openai-error.js';
import { clientErrorResponse, writeRawError, type ClientError } from './raw-error-response.js';
import { ServerMetrics } from './server-metrics.js';
import { resolveServerOptions, ServerOptionsError, type ResolvedServerOptions, type ServerOptions } from './server-options.js';
import type { ServingEngine } from './serving-engine.js';

/** Where a server listens. */
export interface ListenOptions {
  host?: string;
  /** 0 picks a free port. */
  port?: number;
}

/** NOTE: after the engine closed, responses still being written get this long before their sockets are closed. */
const SETTLE_MS = 2_000;
/** Routes answered without an API key (a load balancer's health probe has none). */
const OPEN_ROUTES: ReadonlySet<string> = new Set(['/health']);

/** A running server. Create with {@link createServer}. */
export class BatonServer {
  readonly #metrics = new ServerMetrics();
  readonly #guard: ConnectionGuard;
  readonly #apiKey: ApiKeyCheck | null;
  /** Methods served per path, for 405 answers. */
  readonly #methods = new Map<string, Set<string>>();
  #hostCheck: HostCheck | null = null;
  #closing: Promise<void> | null = null;

  /** @internal use createServer. */
  constructor(
    /** The fastify instance (for `inject` in tests, or adding routes). */
    readonly app: FastifyInstance,
    /** The engine it serves. */
    readonly engine: ServingEngine,
    /** The model id clients use. */
    readonly modelName: string,
    private readonly options: ResolvedServerOptions,
  ) {
    this.#guard = new ConnectionGuard(app.server, options);
    this.#apiKey = options.apiKey === null ? null : new ApiKeyCheck(options.apiKey);
  }

  /** True once close() began. */
  get closing(): boolean {
    return this.#closing !== null;
  }

  /** Open client connections. */
  get connections(): number {
    return this.#guard.size;
  }

  /**
   * Starts listening; resolves with the base URL (`http://127.0.0.1:8000`).
   * @throws {ServerOptionsError} for a non-loopback host without an API key, unless `insecure`.
   */
  async listen(options: ListenOptions = {}): Promise<string> {
    const host = options.host ?? '127.0.0.1';
    if (!isLoopbackHost(host) && this.#apiKey === null && !this.options.insecure) {
      throw new ServerOptionsError('host', `"${host}" is reachable from other machines; set an API key, or allow unauthenticated access explicitly (insecure)`);
    }
    this.#hostCheck = new HostCheck(host, this.options.allowedHosts);
    await this.app.listen({ host, port: options.port ?? 8000 });
    const address = this.app.server.address();
    const port = typeof address === 'object' && address !== null ? address.port : options.port;
    return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  }

  /** Graceful shutdown: answer new requests with 503, drain until the deadline, abort the rest, stop every actor, close the listener. */
  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  async #shutdown(): Promise<void> {
    try {
      await this.engine.close({ deadlineMs: this.options.shutdownDeadlineMs });
      await this.#guard.settled(SETTLE_MS);
    } finally {
      const closed = this.app.close();
      this.#guard.destroyAll();
      await closed;
    }
  }

  /** @internal wires the hooks and routes (called once by createServer). */
  setup(): void {
    const app = this.app;
    const deps = { engine: this.engine, metrics: this.#metrics, closing: () => this.closing, modelName: this.modelName };
    app.addHook('onRoute', (route) => {
      const methods = this.#methods.get(route.url) ?? new Set<string>();
      for (const m of [route.method].flat()) methods.add(m);
      this.#methods.set(route.url, methods);
    });
    app.addHook('onRequest', async (req, reply) => this.#admit(req, reply));
    // NOTE: bodies are JSON only; a text/plain body (JSON sent with the wrong type) gets the 415
    // that says so, rather than a 400 about a string body.
    app.removeContentTypeParser('text/plain');
    app.setErrorHandler((error, _req, reply) => sendError(reply, toApiError(error)));
    app.setNotFoundHandler((req, reply) => sendError(reply, this.#notFound(req)));
    app.server.on('checkExpectation', (_req, res) => {
      writeRawError(res.socket as Socket, new ApiError({ status: 417, type: 'invalid_request_error', param: 'expect', code: 'expectation_failed', message: 'expect: only "100-continue" is supported' }));
    });
    app.server.on('connect', (_req, socket: Socket) => {
      writeRawError(socket, new ApiError({ status: 405, type: 'invalid_request_error', code: 'method_not_allowed', message: 'CONNECT is not supported: this is not a proxy' }));
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

  /** @internal answers a connection-level error (Node's clientError event). */
  answerClientError(error: ClientError, socket: Socket): void {
    const api = clientErrorResponse(error, this.options);
    if (api === null || socket.destroyed || this.#guard.responseStarted(socket)) socket.destroy();
    else writeRawError(socket, api);
  }

  /** Checks every request before routing: connection refused at the cap, Host, API key, shutdown. */
  #admit(req: FastifyRequest, reply: FastifyReply): void {
    if (this.#guard.refused(req.raw.socket as Socket)) {
      reply.hijack();
      req.raw.socket.destroy();
      return;
    }
    const host = req.headers.host;
    if (host === undefined && req.raw.httpVersion === '1.1') {
      throw new ApiError({ status: 400, type: 'invalid_request_error', param: 'host', code: 'missing_host', message: 'host: the Host header is required in HTTP/1.1' });
    }
    if (this.#hostCheck !== null && !this.#hostCheck.allows(host)) {
      throw new ApiError({
        status: 403, type: 'invalid_request_error', param: 'host', code: 'host_not_allowed',
        message: `host: ${JSON.stringify(host ?? '')} is not allowed; this server listens on loopback and answers localhost, 127.0.0.1 and [::1]`,
      });
    }
    const path = req.url.split('?')[0];
    if (this.#apiKey !== null && !OPEN_ROUTES.has(path) && !this.#apiKey.allows(req.headers.authorization)) {
      throw new ApiError({
        status: 401, type: 'invalid_request_error', code: 'invalid_api_key', headers: { 'www-authenticate': 'Bearer' },
        message: 'authorization: missing or wrong API key; send the header Authorization: Bearer <key>',
      });
    }
    // NOTE: /health answers 503 too, so a load balancer stops sending traffic during the drain.
    if (this.closing && path !== '/metrics') throw shuttingDown();
  }

  /** 405 (with Allow) for a known path with another method, else 404. */
  #notFound(req: FastifyRequest): ApiError {
    const path = req.url.split('?')[0];
    const methods = this.#methods.get(path);
    if (methods !== undefined && !methods.has(req.method)) {
      const allow = [...methods].sort().join(', ');
      return new ApiError({ status: 405, type: 'invalid_request_error', code: 'method_not_allowed', headers: { allow }, message: `${req.method} ${path}: method not allowed; use ${allow}` });
    }
    return new ApiError({ status: 404, type: 'invalid_request_error', code: 'not_found', message: `${req.method} ${path}: no such route` });
  }
}

function sendError(reply: FastifyReply, api: ApiError): void {
  void reply.code(api.status).headers(api.headers).send(api.body());
}

/**
 * Builds the server (and its engine unless one is given). Call `listen()` to serve.
 * @throws {ServerOptionsError} naming a bad option (checked before any engine starts).
 */
export async function createServer(options: ServerOptions = {}): Promise<BatonServer> {
  const o = resolveServerOptions(options);
  const engine = options.engine ?? (await createEngine(options.engineOptions ?? {}));
  let server: BatonServer | null = null;
  const app = Fastify({
    bodyLimit: o.bodyLimitBytes,
    logger: false,
    // NOTE: off, so requests that arrive while closing get our OpenAI-style 503 (see #admit).
    return503OnClosing: false,
    keepAliveTimeout: o.idleTimeoutMs,
    requestTimeout: o.bodyTimeoutMs,
    http: {
      headersTimeout: o.headersTimeoutMs,
      requestTimeout: o.bodyTimeoutMs,
      keepAliveTimeout: o.idleTimeoutMs,
      // NOTE: Node checks the two request timeouts on this interval (30 s by default), so a
      // timeout of a few seconds would otherwise fire up to 30 s late.
      connectionsCheckingInterval: Math.max(50, Math.min(1_000, Math.floor(o.headersTimeoutMs / 4))),
      // NOTE: off, so a missing Host gets our JSON 400 instead of Node's bodiless one.
      requireHostHeader: false,
    },
    clientErrorHandler: (error, socket) => {
      if (server === null) socket.destroy();
      else server.answerClientError(error, socket);
    },
    frameworkErrors: (error, _req, reply) => {
      const api = error.code === 'FST_ERR_BAD_URL'
        ? new ApiError({ status: 400, type: 'invalid_request_error', code: 'invalid_url', message: `url: is not a valid URL path (${error.message})` })
        : toApiError(error);
      sendError(reply, api);
    },
  });
  server = new BatonServer(app, engine, options.modelName ?? engine.options.model, o);
  server.setup();
  return server;
}
