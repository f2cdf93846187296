/**
 * getopt(3) as the BSD tools use it: option clusters (`-vv`, `-inb`), an
 * option's argument attached (`-iem0`) or in the next word (`-i em0`), `--`
 * ends the options, and so does the first word that is not an option (no
 * permutation). Parsing stops at the first illegal option or missing
 * argument, which is the last item; the tool prints the message getopt(3)
 * prints (getoptMessage) and its usage.
 */

export type GetoptItem = { opt: string; arg: string; error?: undefined } | { error: 'illegal' | 'missing'; opt: string };

export interface GetoptResult {
  /** Options in command-line order; an error, if any, is the last item. */
  items: GetoptItem[];
  /** The words after the options. */
  operands: string[];
}

/** Parse `argv` against an optstring such as "i:f:vM:N:" (a letter followed by ':' takes an argument). */
export function getopt(argv: readonly string[], optstring: string): GetoptResult {
  const takesArg = new Map<string, boolean>();
  for (let i = 0; i < optstring.length; i++) {
    if (optstring[i] === ':') continue;
    takesArg.set(optstring[i], optstring[i + 1] === ':');
  }
  const items: GetoptItem[] = [];
  let k = 0;
  for (; k < argv.length; k++) {
    const word = argv[k];
    if (word === '--') {
      k++;
      break;
    }
    if (word.length < 2 || word[0] !== '-') break;
    for (let j = 1; j < word.length; j++) {
      const c = word[j];
      const arg = takesArg.get(c);
      if (arg === undefined) {
        items.push({ error: 'illegal', opt: c });
        return { items, operands: argv.slice(k + 1) };
      }
      if (!arg) {
        items.push({ opt: c, arg: '' });
        continue;
      }
      if (j + 1 < word.length) items.push({ opt: c, arg: word.slice(j + 1) });
      else if (k + 1 < argv.length) items.push({ opt: c, arg: argv[++k] });
      else {
        items.push({ error: 'missing', opt: c });
        return { items, operands: [] };
      }
      break;
    }
  }
  return { items, operands: argv.slice(k) };
}

/** What getopt(3) prints for an error item: "<prog>: illegal option -- x". */
export function getoptMessage(prog: string, item: { error: 'illegal' | 'missing'; opt: string }): string {
  return `${prog}: ${item.error === 'illegal' ? 'illegal option' : 'option requires an argument'} -- ${item.opt}\n`;
}

/**
 * One plain sentence for an error of node:util's parseArgs (the long-option
 * tools: join, send, querier...), instead of its advice about `--`.
 */
export function parseArgsMessage(e: unknown): string {
  const err = e as { code?: string; message?: string };
  const quoted = /'(--?[^' ]+)/.exec(err.message ?? '')?.[1];
  if (err.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && quoted) return `unknown option ${quoted}`;
  if (err.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && quoted) {
    if (/ambiguous/.test(err.message ?? '')) return `${quoted} needs a value (a value that starts with a dash goes as ${quoted}=-1)`;
    return `${quoted}: ${(err.message ?? '').replace(/^Option '[^']*' /, '').split('\n')[0]}`;
  }
  return (err.message ?? String(e)).split('\n')[0];
}
