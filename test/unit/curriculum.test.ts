/**
 * The curriculum (labs/NN-name/lab.yaml): every lab that needs no kernel
 * runs in virtual time through the runner's API (runLab) and passes, and a
 * virtual-time run is a function of its seed: twice with the same seed
 * gives byte-identical timelines, another seed a different one. The kernel
 * labs run for real in test/kernel/curriculum.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { loadLabFile, type Lab } from '../../src/lab/labfile.js';
import { labNeedsKernel, runLab, type LabResult } from '../../src/lab/runner.js';

const LABS = join(import.meta.dirname, '..', '..', 'labs');

/** Every curriculum lab directory with its lab.yaml, in order. */
function curriculum(): { dir: string; file: string }[] {
  return readdirSync(LABS, { withFileTypes: true })
    .filter((d) => d.isDirectory() && /^\d\d-/.test(d.name))
    .map((d) => ({ dir: d.name, file: join(LABS, d.name, 'lab.yaml') }))
    .sort((a, b) => a.dir.localeCompare(b.dir));
}

function load(file: string): Lab {
  return loadLabFile(file).lab;
}

function failures(r: LabResult): string {
  return [r.error ?? '', ...r.checks.filter((c) => !c.ok).map((c) => `${c.label} (${c.where}): ${c.seen}`)].filter(Boolean).join('\n');
}

const all = curriculum();
const memoryLabs = all.filter((l) => !labNeedsKernel(load(l.file)));

describe('the curriculum', () => {
  it('has at least nine labs, each with a lab.yaml and a README.md, numbered without gaps', () => {
    expect(all.length).toBeGreaterThanOrEqual(9);
    all.forEach((l, i) => {
      expect(l.dir.slice(0, 2)).toBe(String(i + 1).padStart(2, '0'));
      expect(existsSync(l.file), `${l.dir}/lab.yaml`).toBe(true);
      expect(existsSync(join(LABS, l.dir, 'README.md')), `${l.dir}/README.md`).toBe(true);
    });
    expect(memoryLabs.length).toBeGreaterThanOrEqual(7);
  });

  for (const l of memoryLabs) {
    it(`${l.dir} passes in virtual time`, async () => {
      const lab = load(l.file);
      const r = await runLab(lab, { virtualTime: true });
      expect(failures(r)).toBe('');
      expect(r.ok).toBe(true);
      expect(r.clock).toBe('virtual');
      // A lab that checks nothing would pass vacuously.
      expect(r.checks.length).toBeGreaterThanOrEqual(4);
      expect(r.endMs).toBe(lab.endMs);
    });
  }

  it('a virtual-time lab gives byte-identical timelines for the same seed, another for another seed', async () => {
    const lab = load(join(LABS, '08-robustness', 'lab.yaml'));
    const text = (r: LabResult) => r.timeline.map((t) => `${t.timeMs} ${t.kind} ${t.text}`).join('\n');
    const a = await runLab(lab, { virtualTime: true, seed: 3 });
    const b = await runLab(lab, { virtualTime: true, seed: 3 });
    expect(a.ok).toBe(true);
    expect(text(a).length).toBeGreaterThan(1000);
    expect(text(b)).toBe(text(a));
    const c = await runLab(lab, { virtualTime: true, seed: 4 });
    expect(text(c)).not.toBe(text(a));
  });

  it('the same holds for a lab with several hosts and random report timers', async () => {
    const lab = load(join(LABS, '02-igmpv2-join-leave', 'lab.yaml'));
    const text = (r: LabResult) => JSON.stringify(r.timeline);
    const a = await runLab(lab, { virtualTime: true });
    const b = await runLab(lab, { virtualTime: true });
    expect(text(b)).toBe(text(a));
  });
});
