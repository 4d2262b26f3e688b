/**
 * Message typing: every actor protocol is a discriminated union on a string `type` field.
 * A message that expects a reply declares it with `Ask<M, R>`, a phantom (type-only) field, so
 * `ref.ask(msg)` resolves to exactly `R`. Messages without a declared reply resolve to `void`
 * when asked (the ask then only acknowledges that the handler finished).
 */

declare const replyBrand: unique symbol;

/** The shape every message shares: a string discriminant named `type`. */
export interface Message {
  readonly type: string;
}

/** A message `M` whose ask resolves to `R`. The brand is type-only: nothing is added at runtime. */
export type Ask<M extends Message, R> = M & { readonly [replyBrand]?: R };

/** The reply type declared for message `M` (`void` when it declares none). */
export type ReplyOf<M> = M extends { readonly [replyBrand]?: infer R }
  ? typeof replyBrand extends keyof M
    ? R
    : void
  : void;

/** The message of protocol `P` whose `type` is `T`. */
export type MessageOfType<P extends Message, T extends P['type']> = Extract<P, { type: T }>;

/** The reply type of the message of protocol `P` whose `type` is `T`. */
export type ReplyFor<P extends Message, T extends P['type']> = ReplyOf<MessageOfType<P, T>>;

/** One handler per message type of `P`; each may be async and returns that message's reply. */
export type Handlers<P extends Message> = {
  [T in P['type']]-?: (msg: MessageOfType<P, T>) => ReplyFor<P, T> | Promise<ReplyFor<P, T>>;
};

/** The `type` of a received value, or null when it has no string `type` field. */
export function messageTypeOf(msg: unknown): string | null {
  const type = (msg as { type?: unknown } | null)?.type;
  return typeof type === 'string' ? type : null;
}

/** The `type` of a value for error messages (`(no type)` when it has none). */
export function describeType(msg: unknown): string {
  return messageTypeOf(msg) ?? '(no type)';
}
