/**
 * Fixture program for the package's own tests: starts a system with one actor process, prints
 * that process's pid on stdout, and waits (the test then kills this program with SIGKILL and checks
 * that the actor process goes away too).
 */
import { ActorSystem } from '../actor-system.js';
import type { CounterProtocol } from './counter-actor.js';

const system = new ActorSystem();
const counter = await system.spawn<CounterProtocol>({ module: new URL('./counter-actor.js', import.meta.url), name: 'orphan', placement: 'process' });
const { pid } = await counter.ask({ type: 'where' });
process.stdout.write(`${pid}\n`);
setInterval(() => {}, 1_000);
