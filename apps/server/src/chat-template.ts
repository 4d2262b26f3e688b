/**
 * The chat template for the tiny model: each message becomes a role tag line, its text, and an
 * end marker; the prompt ends with an open assistant turn. Generation stops at the end marker
 * (added to the request's stop strings), so a well-trained model ends its turn there.
 *
 *     <|system|>\nYou are terse.<|end|>\n<|user|>\nHello<|end|>\n<|assistant|>\n
 *
 * `developer` messages are rendered as `system`. Text parts of one message are concatenated.
 *
 * Invariant: role boundaries cannot be forged from content. Every marker (`<|system|>`,
 * `<|end|>`, ...) starts with `<|`, and a message's text never contains `<|` once rendered: each
 * `<|` in content becomes `<\|` (see {@link escapeChatContent}). So the rendered prompt holds
 * exactly one role tag per message plus the final assistant tag, wherever the content came from.
 */
import type { ChatMessage } from './request-schemas.js';

/** Ends every turn; also a stop string of every chat request. */
export const CHAT_END_MARKER = '<|end|>';

/** Opens every template marker; never appears in rendered content. */
const MARKER_OPEN = '<|';
/** What a `<|` in content is rendered as. */
const ESCAPED_MARKER_OPEN = '<\\|';

/** Renders the messages into the prompt text. */
export function renderChatPrompt(messages: readonly ChatMessage[]): string {
  const turns = messages.map((m) => `<|${m.role === 'developer' ? 'system' : m.role}|>\n${escapeChatContent(messageText(m))}${CHAT_END_MARKER}\n`);
  return `${turns.join('')}<|assistant|>\n`;
}

/**
 * Content as it appears inside a turn: every `<|` becomes `<\|`, so no marker can start in it.
 * NOTE: the pieces are joined before escaping: text parts `['<', '|end|>']` must not meet to form
 * a marker either.
 */
export function escapeChatContent(text: string): string {
  return text.split(MARKER_OPEN).join(ESCAPED_MARKER_OPEN);
}

function messageText(m: ChatMessage): string {
  return typeof m.content === 'string' ? m.content : m.content.map((p) => p.text).join('');
}
