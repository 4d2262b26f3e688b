/**
 * Help pages of baton commands: what `baton <command> --help` prints (every option, its value,
 * what it does and its default) and the usage line `baton --help` lists. Invariants: plain data
 * and string formatting only, no import that loads the model or the engine, so help prints
 * without starting TensorFlow.js; a page documents exactly the options its command parses
 * (checked by the command tests).
 */

/** One option of a command. */
export interface OptionHelp {
  /** Placeholder of the value (`N`, `DIR|NAME`); absent for an on/off flag. */
  value?: string;
  /** What the option does. */
  text: string;
  /** The default as a user would write it; absent means none (or off, for a flag). */
  default?: string;
  /** Shown in the synopsis without brackets. */
  required?: boolean;
}

/** The help page of one command. */
export interface CommandHelp {
  name: string;
  /** One line for `baton --help`. */
  summary: string;
  /** The synopsis after `baton <name>`; built from the options when absent. */
  synopsis?: string;
  /** Every option the command accepts, by name without the dashes, in the order shown. */
  options: Readonly<Record<string, OptionHelp>>;
  /** Paragraphs after the option list. */
  notes?: readonly string[];
}

const WIDTH = 100;

/** `baton <name> <synopsis>`. */
export function usageLine(h: CommandHelp): string {
  if (h.synopsis !== undefined) return `baton ${h.name} ${h.synopsis}`;
  const parts = Object.entries(h.options).map(([name, o]) => {
    const flag = o.value === undefined ? `--${name}` : `--${name} ${o.value}`;
    return o.required === true ? flag : `[${flag}]`;
  });
  return `baton ${h.name} ${parts.join(' ')}`;
}

/** The whole `--help` page. */
export function formatHelp(h: CommandHelp): string {
  const flags = Object.entries(h.options).map(([name, o]) => (o.value === undefined ? `--${name}` : `--${name} ${o.value}`));
  const column = Math.min(30, Math.max(...flags.map((f) => f.length)) + 2);
  const indent = ' '.repeat(column + 2);
  const usage = wrap(`usage: ${usageLine(h)}`, WIDTH - 2).map((l, i) => (i === 0 ? l : `  ${l}`));
  const lines = [...wrap(`baton ${h.name}: ${h.summary}`, WIDTH), '', ...usage, '', 'options:'];
  Object.values(h.options).forEach((o, i) => {
    const body = wrap(`${o.text} (${defaultText(o)})`, WIDTH - indent.length).map((l) => indent + l);
    const head = `  ${flags[i]}`;
    if (head.length >= indent.length) lines.push(head, ...body);
    else lines.push(head.padEnd(indent.length) + body[0].trimStart(), ...body.slice(1));
  });
  lines.push(`${'  --help'.padEnd(indent.length)}print this help`);
  for (const note of h.notes ?? []) lines.push('', ...wrap(note, WIDTH));
  return lines.join('\n') + '\n';
}

function defaultText(o: OptionHelp): string {
  if (o.required === true) return 'required';
  if (o.default !== undefined) return `default: ${o.default}`;
  return o.value === undefined ? 'default: off' : 'default: none';
}

/** Greedy word wrap into lines of at most `width` characters (a longer word gets a line of its own). */
function wrap(text: string, width: number): string[] {
  const out: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line !== '' && line.length + 1 + word.length > width) {
      out.push(line);
      line = word;
    } else {
      line = line === '' ? word : `${line} ${word}`;
    }
  }
  out.push(line);
  return out;
}
