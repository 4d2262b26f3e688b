/**
 * The Host header check that keeps a loopback-bound server out of reach of web pages (DNS
 * rebinding: a page on `evil.example` whose name later resolves to 127.0.0.1 can send requests
 * to the local port, but its requests still say `Host: evil.example`). On a loopback bind only
 * loopback names are answered; on any other bind the check is off and an API key protects the
 * server instead.
 *
 * Invariant: a name is compared without its port and case-insensitively; IPv6 literals are
 * compared in their bracketed form (`[::1]`).
 */

/** Host names always accepted on a loopback bind. */
const LOOPBACK_NAMES: readonly string[] = ['localhost', '127.0.0.1', '[::1]'];

/** True for an address or name that only this machine can reach (127.0.0.0/8, ::1, localhost). */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[(.*)\]$/, '$1');
  if (h === 'localhost' || h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
  const v4 = h.startsWith('::ffff:') ? h.slice('::ffff:'.length) : h;
  return /^127(\.\d{1,3}){3}$/.test(v4);
}

/** The host name of a Host header without its port (`[::1]:8000` → `[::1]`); null when malformed. */
export function hostnameOf(header: string): string | null {
  const h = header.trim().toLowerCase();
  const bracketed = /^(\[[0-9a-f:.]+\])(?::\d{1,5})?$/.exec(h);
  if (bracketed !== null) return bracketed[1];
  const plain = /^([a-z0-9.-]+)(?::\d{1,5})?$/.exec(h);
  return plain === null ? null : plain[1];
}

/** Decides which Host headers a server bound to `listenHost` answers. */
export class HostCheck {
  readonly #allowed: ReadonlySet<string> | null;

  /** `extra`: names accepted beside the loopback ones (a reverse proxy's name, say). */
  constructor(listenHost: string, extra: readonly string[]) {
    if (!isLoopbackHost(listenHost)) {
      this.#allowed = null;
      return;
    }
    const bound = listenHost.includes(':') && !listenHost.startsWith('[') ? `[${listenHost}]` : listenHost;
    this.#allowed = new Set([...LOOPBACK_NAMES, bound.toLowerCase(), ...extra.map((h) => h.toLowerCase())]);
  }

  /** True when the check is on (loopback bind). */
  get active(): boolean {
    return this.#allowed !== null;
  }

  /** True when a request with this Host header may be answered. */
  allows(header: string | undefined): boolean {
    if (this.#allowed === null) return true;
    if (header === undefined) return false;
    const name = hostnameOf(header);
    return name !== null && this.#allowed.has(name);
  }
}
