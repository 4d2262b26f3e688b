/**
 * Public API of `@baton/actors/testkit`: run actor classes in the test's own thread with probes
 * and a manual clock.
 */

/** The harness. */
export { ActorTestKit, type RecordedCrash, type TestActor, type TestSpawnOptions } from './actor-test-kit.js';
/** A clock driven by `advance(ms)`. */
export { ManualClock } from './manual-clock.js';
/** Recording refs and their assertions. */
export { matchesPattern, TestProbe, type DeepPartial, type ExpectOptions, type MessagePattern } from './test-probe.js';
