/**
 * The optional API key: every request must carry `Authorization: Bearer <key>`. The comparison
 * takes the same time whatever the offered key is: both keys are hashed (SHA-256) and the
 * digests compared with `timingSafeEqual`, so neither the key's content nor its length leaks
 * through response times.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

/** Checks Authorization headers against one key. */
export class ApiKeyCheck {
  readonly #digest: Buffer;

  constructor(key: string) {
    this.#digest = sha256(key);
  }

  /** True when `authorization` is `Bearer <the key>` (scheme case-insensitive). */
  allows(authorization: string | undefined): boolean {
    const m = /^bearer +(\S+) *$/i.exec(authorization ?? '');
    // NOTE: hash something even without a token, so a missing header costs the same as a wrong one.
    const offered = sha256(m === null ? '' : m[1]);
    return timingSafeEqual(offered, this.#digest) && m !== null;
  }
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}
