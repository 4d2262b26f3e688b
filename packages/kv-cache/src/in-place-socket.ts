/**
 * In-place reads on a socket a server accepted: Node 20's net.Server hands out sockets that read
 * into buffers Node allocates (one per chunk, which a receiver must then copy), and only a
 * socket constructed with `onread` reads into caller-chosen memory. `takeOverForInPlaceReads`
 * moves an accepted connection's handle into a new net.Socket constructed with `onread`, so the
 * kernel reads payloads straight into their destination (e.g. a pool's pages).
 *
 * Invariants: the accepted socket must not have read anything yet (its server was created with
 * `pauseOnConnect: true`); afterwards the returned socket owns the connection (closing it closes
 * the connection) and the accepted one is destroyed without touching it (the server stops
 * counting it). Returns null, leaving the accepted socket as it was, where the handle cannot be
 * taken over; the caller then reads its chunks the ordinary way.
 */
import { Socket, type ConnectOpts, type OnReadOpts, type SocketConstructorOpts } from 'node:net';

/** The one undocumented field used: the libuv stream wrap a net.Socket reads and writes through. */
interface HandleOwner {
  _handle?: unknown;
}

/**
 * Rewraps a paused accepted socket so its reads land where `onread.buffer()` says; null when
 * the socket has already read, is closed, or has no handle (a Duplex that is not a net.Socket).
 */
export function takeOverForInPlaceReads(accepted: Socket, onread: OnReadOpts): Socket | null {
  const owner = accepted as unknown as HandleOwner;
  const handle = owner._handle;
  // NOTE: a socket that has read (flowing, or bytes buffered) would lose those bytes here.
  if (typeof handle !== 'object' || handle === null || accepted.destroyed || !accepted.isPaused() || accepted.readableLength > 0) return null;
  owner._handle = null;
  // NOTE: with no handle, destroy() only ends the JS object (and decrements the server's
  // connection count); the connection itself now belongs to the new socket.
  accepted.destroy();
  // NOTE: @types/node lists neither `handle` nor `onread` for the constructor; net.Socket accepts
  // both (`handle` is how net.Server builds the sockets it accepts, `onread` how connect() passes it).
  const options: SocketConstructorOpts & ConnectOpts & { handle: object } = { handle, readable: true, writable: true, onread };
  return new Socket(options);
}
