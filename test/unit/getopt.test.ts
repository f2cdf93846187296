import { describe, expect, it } from 'vitest';
import { getopt, getoptMessage } from '../../src/tools/getopt.js';

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
