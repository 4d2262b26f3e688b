import { describe, expectTypeOf, it } from 'vitest';
import type { ActorRef } from './actor-ref.js';
import type { Ask, Handlers, ReplyFor, ReplyOf } from './message.js';

type Protocol = Ask<{ type: 'get' }, number> | { type: 'set'; value: number } | Ask<{ type: 'name' }, string>;

describe('message typing', () => {
  it('derives reply types from Ask declarations', () => {
    expectTypeOf<ReplyOf<Ask<{ type: 'get' }, number>>>().toEqualTypeOf<number>();
    expectTypeOf<ReplyOf<{ type: 'set'; value: number }>>().toEqualTypeOf<void>();
    expectTypeOf<ReplyFor<Protocol, 'name'>>().toEqualTypeOf<string>();
  });

  it('types ref.ask per message and handlers per type', () => {
    const ref = null as unknown as ActorRef<Protocol>;
    expectTypeOf<ReturnType<typeof ref.ask<{ type: 'get' }>>>().toEqualTypeOf<Promise<number>>();
    expectTypeOf<ReturnType<typeof ref.ask<{ type: 'set'; value: number }>>>().toEqualTypeOf<Promise<void>>();
    expectTypeOf<Handlers<Protocol>['get']>().returns.toEqualTypeOf<number | Promise<number>>();
    expectTypeOf<Parameters<Handlers<Protocol>['set']>[0]>().toEqualTypeOf<{ type: 'set'; value: number }>();
  });
});
