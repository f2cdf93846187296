import { parseArgs } from 'node:util';
import { describe, expect, it } from 'vitest';
import { getopt, getoptMessage, parseArgsMessage } from '../../src/tools/getopt.js';

describe('getopt(3)', () => {
  it('clusters, attached and separate arguments, -- and the first operand end the options', () => {
    expect(getopt(['-vv', '-iem0', '-f', 'inet', 'x', '-v'], 'i:f:v')).toEqual({
      items: [
        { opt: 'v', arg: '' },
        { opt: 'v', arg: '' },
        { opt: 'i', arg: 'em0' },
        { opt: 'f', arg: 'inet' },
      ],
      operands: ['x', '-v'],
    });
    expect(getopt(['-v', '--', '-i'], 'i:v').operands).toEqual(['-i']);
    expect(getopt(['-', 'a'], 'v')).toEqual({ items: [], operands: ['-', 'a'] });
    expect(getopt(['-vi', 'em0'], 'i:v').items).toEqual([
      { opt: 'v', arg: '' },
      { opt: 'i', arg: 'em0' },
    ]);
  });

  it('stops at an illegal option or a missing argument, which is the last item', () => {
    const bad = getopt(['-v', '-x', '-i', 'em0'], 'i:v');
    expect(bad.items.at(-1)).toEqual({ error: 'illegal', opt: 'x' });
    expect(getoptMessage('ifmcstat', bad.items.at(-1) as never)).toBe('ifmcstat: illegal option -- x\n');
    const missing = getopt(['-v', '-i'], 'i:v');
    expect(missing.items.at(-1)).toEqual({ error: 'missing', opt: 'i' });
    expect(getoptMessage('netstat', missing.items.at(-1) as never)).toBe('netstat: option requires an argument -- i\n');
  });
});

describe('parseArgsMessage', () => {
  const fail = (args: string[]): unknown => {
    try {
      parseArgs({ args, options: { include: { type: 'string' }, count: { type: 'string' } }, allowPositionals: true, strict: true });
    } catch (e) {
      return e;
    }
    throw new Error('parseArgs accepted it');
  };
  it('says in one sentence what node:util parseArgs explains at length', () => {
    expect(parseArgsMessage(fail(['--incluude', 'x']))).toBe('unknown option --incluude');
    expect(parseArgsMessage(fail(['--count', '-1']))).toBe('--count needs a value (a value that starts with a dash goes as --count=-1)');
  });
});
