/**
 * Public API of @baton/server: an OpenAI-compatible HTTP server (fastify + zod) over a Baton
 * engine, embeddable in any Node service; `baton serve` is a thin wrapper around it.
 */

/** Builds a server over an engine; the running server and its options. */
export { createServer, BatonServer, type ListenOptions } from './server.js';
/** Server options, their defaults, and the error a bad one raises. */
export { DEFAULT_SERVER_OPTIONS, ServerOptionsError, type ServerOptions } from './server-options.js';
/** Which listen addresses only this machine can reach (the Host check and the API-key rule use it). */
export { isLoopbackHost } from './host-check.js';
/** What the server needs from an engine (the in-process and the multi-process engines fit). */
export type { ServingEngine } from './serving-engine.js';
/** The chat template used for /v1/chat/completions, and its end-of-turn stop marker. */
export { CHAT_END_MARKER, escapeChatContent, renderChatPrompt } from './chat-template.js';
/** OpenAI-style error body. */
export type { OpenAiErrorBody } from './openai-error.js';
