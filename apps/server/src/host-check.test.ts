import { describe, expect, it } from 'vitest';
import { HostCheck, hostnameOf, isLoopbackHost } from './host-check.js';

describe('isLoopbackHost', () => {
  it('knows the loopback addresses and names', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', 'localhost', 'LOCALHOST', '::1', '[::1]', '::ffff:127.0.0.1']) expect(isLoopbackHost(h), h).toBe(true);
    for (const h of ['0.0.0.0', '::', '192.168.1.10', '10.0.0.1', 'example.com', '128.0.0.1', '127.0.0.1.example.com']) expect(isLoopbackHost(h), h).toBe(false);
  });
});

describe('hostnameOf', () => {
  it('strips the port and lower-cases; rejects what is not a host', () => {
    expect(hostnameOf('LocalHost:8000')).toBe('localhost');
    expect(hostnameOf('[::1]:8000')).toBe('[::1]');
    expect(hostnameOf('127.0.0.1')).toBe('127.0.0.1');
    expect(hostnameOf('evil.example:80')).toBe('evil.example');
    for (const bad of ['', 'a b', 'localhost:80:80', 'user@localhost', 'localhost/x', '[::1']) expect(hostnameOf(bad), bad).toBeNull();
  });
});

describe('HostCheck', () => {
  it('on a loopback bind answers only loopback names (with any port) and the extra ones', () => {
    const check = new HostCheck('127.0.0.1', ['proxy.internal']);
    expect(check.active).toBe(true);
    for (const h of ['localhost:8000', '127.0.0.1:8000', '[::1]:8000', 'localhost', 'proxy.internal:443']) expect(check.allows(h), h).toBe(true);
    for (const h of ['evil.example', 'evil.example:8000', 'localhost.evil.example', '127.0.0.1.nip.io', '']) expect(check.allows(h), h).toBe(false);
    expect(check.allows(undefined)).toBe(false);
  });

  it('accepts the address it is bound to', () => {
    expect(new HostCheck('127.0.0.2', []).allows('127.0.0.2:9000')).toBe(true);
    expect(new HostCheck('::1', []).allows('[::1]:9000')).toBe(true);
  });

  it('is off on a non-loopback bind (an API key protects the server there)', () => {
    const check = new HostCheck('0.0.0.0', []);
    expect(check.active).toBe(false);
    expect(check.allows('evil.example')).toBe(true);
  });
});
