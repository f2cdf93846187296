// The errno name a call fails with ('no error' when it does not throw); non-KernErrors are rethrown.
import { KernError } from '../../src/kern/errno.js';

export function errnoOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof KernError) return e.code;
    throw e;
  }
  return 'no error';
}
