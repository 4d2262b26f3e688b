/**
 * The chat template for the tiny model: each message becomes a role tag line, its text, and an
 * end marker; the prompt ends with an open assistant turn. Generation stops at the end marker
 * (added to the request's stop strings), so a well-trained model ends its turn there.
 *
 *     <|system|>\nYou are terse.<|end|>\n<|user|>\nHello<|end|>\n<|assistant|>\n
 *
 * `developer` messages are rendered as `system`. Text parts of one message are concatenated.
 */
import type { ChatMessage } from './request-schemas.js';

/** Ends every turn; also a stop string of every chat request. */
export const CHAT_END_MARKER = '<|end|>';

/** Renders the messages into the prompt text. */
export function renderChatPrompt(messages: readonly ChatMessage[]): string {
  const turns = messages.map((m) => `<|${m.role === 'developer' ? 'system' : m.role}|>\n${messageText(m)}${CHAT_END_MARKER}\n`);
  return `${turns.join('')}<|assistant|>\n`;
}

function messageText(m: ChatMessage): string {
  return typeof m.content === 'string' ? m.content : m.content.map((p) => p.text).join('');
}
