/**
 * errno-style errors. Numbers are FreeBSD's (sys/sys/errno.h), since taplab
 * models the BSD kernel; the name is what people read, the number is what a
 * program can switch on.
 */
export const ERRNO = {
  EPERM: 1,
  ENOENT: 2,
  EIO: 5,
  ENXIO: 6,
  E2BIG: 7,
  EBADF: 9,
  ENOMEM: 12,
  EACCES: 13,
  EFAULT: 14,
  EBUSY: 16,
  EEXIST: 17,
  ENODEV: 19,
  EINVAL: 22,
  ENOTTY: 25,
  ESRCH: 3,
  ECONNREFUSED: 61,
  ENOSPC: 28,
  EAGAIN: 35,
  EMSGSIZE: 40,
  ENOPROTOOPT: 42,
  EPROTONOSUPPORT: 43,
  EOPNOTSUPP: 45,
  EPFNOSUPPORT: 46,
  EAFNOSUPPORT: 47,
  EADDRINUSE: 48,
  EADDRNOTAVAIL: 49,
  ENETDOWN: 50,
  ENETUNREACH: 51,
  ENOBUFS: 55,
  ETIMEDOUT: 60,
  EHOSTUNREACH: 65,
  ENAMETOOLONG: 63,
  ETOOMANYREFS: 59,
  EHOSTDOWN: 64,
} as const;

export type ErrnoName = keyof typeof ERRNO;

/** An error with an errno name and a sentence saying what went wrong and where. */
export class KernError extends Error {
  readonly errno: number;
  constructor(
    readonly code: ErrnoName,
    message: string,
  ) {
    super(`${code}: ${message}`);
    this.name = 'KernError';
    this.errno = ERRNO[code];
  }
}

export function kerr(code: ErrnoName, message: string): KernError {
  return new KernError(code, message);
}

export function isKernError(e: unknown, code?: ErrnoName): e is KernError {
  return e instanceof KernError && (code === undefined || e.code === code);
}
