/**
 * `ipcEndpoint`: a comlink endpoint over one channel of a fork IPC connection (the parent's
 * `ChildProcess` or the child's `process`). Several conversations share the connection, each
 * tagged with its channel name (`ProcessIpcMessage`); the endpoint sees only its own.
 */
import type { Endpoint as ComlinkEndpoint } from 'comlink/dist/esm/comlink.mjs';
import { isProcessIpcMessage, type ProcessIpcMessage } from './protocol.js';

/** The part of `ChildProcess` / `process` the endpoint needs. */
export interface IpcPeer {
  send?(message: ProcessIpcMessage, handle: undefined, options: object, callback: (error: Error | null) => void): boolean;
  on(event: 'message', listener: (message: unknown) => void): unknown;
  off(event: 'message', listener: (message: unknown) => void): unknown;
}

type Listener = Parameters<ComlinkEndpoint['addEventListener']>[1];

/** A comlink endpoint for channel `ch` of `peer`. */
export function ipcEndpoint(peer: IpcPeer, ch: 'control' | 'host'): ComlinkEndpoint {
  const wrapped = new Map<Listener, (message: unknown) => void>();
  return {
    postMessage(message: unknown) {
      // NOTE: a send on a closed channel is dropped (the callback swallows its error); the host's
      // death handling answers the caller.
      try {
        peer.send?.({ ch, m: message }, undefined, {}, () => {});
      } catch {
        // the connection is gone
      }
    },
    addEventListener(_type: string, listener: Listener) {
      const onMessage = (message: unknown): void => {
        if (!isProcessIpcMessage(message) || message.ch !== ch) return;
        const event = { data: message.m } as MessageEvent;
        if (typeof listener === 'function') listener(event);
        else listener.handleEvent(event);
      };
      wrapped.set(listener, onMessage);
      peer.on('message', onMessage);
    },
    removeEventListener(_type: string, listener: Listener) {
      const onMessage = wrapped.get(listener);
      if (onMessage === undefined) return;
      wrapped.delete(listener);
      peer.off('message', onMessage);
    },
  };
}
