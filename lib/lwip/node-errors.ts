// The errors node:dgram throws and emits, made here with the same classes, codes,
// messages and fields, so that code written against node:dgram handles ours the
// same way (`err.code === 'EADDRINUSE'`). Two families:
//  - argument and state errors (ERR_*): thrown synchronously, TypeError / RangeError /
//    Error as Node picks, message text as Node 20 words it;
//  - system errors (EADDRINUSE, EMSGSIZE, ...): an Error with code, errno (negative,
//    as libuv reports it), syscall and, for a send or bind, address and port.
import { constants } from 'node:os';
import { inspect } from 'node:util';

/** Node's description of a value in an error message ("type number (5)", "an instance of Object"). */
export function describeValue(value: unknown): string {
  if (value == null) return String(value);
  if (typeof value === 'function' && value.name) return `function ${value.name}`;
  if (typeof value === 'object') {
    const ctor = (value as { constructor?: { name?: unknown } }).constructor;
    if (typeof ctor?.name === 'string' && ctor.name !== '') return `an instance of ${ctor.name}`;
    return inspect(value, { depth: -1 });
  }
  let shown = inspect(value, { colors: false });
  if (shown.length > 28) shown = `${shown.slice(0, 25)}...`;
  return `type ${typeof value} (${shown})`;
}

function coded<E extends Error>(e: E, code: string): E & { code: string } {
  Object.defineProperty(e, 'code', { value: code, enumerable: true, writable: true, configurable: true });
  return e as E & { code: string };
}

export type NodeCodedError = Error & { code: string };

export const nodeErrors = {
  badType: (detail?: string): NodeCodedError =>
    coded(
      new TypeError(`Bad socket type specified. Valid types are: udp4, udp6${detail ? ` (${detail})` : ''}`),
      'ERR_SOCKET_BAD_TYPE',
    ),
  alreadyBound: (): NodeCodedError => coded(new Error('Socket is already bound'), 'ERR_SOCKET_ALREADY_BOUND'),
  notRunning: (): NodeCodedError => coded(new Error('Not running'), 'ERR_SOCKET_DGRAM_NOT_RUNNING'),
  isConnected: (): NodeCodedError => coded(new Error('Already connected'), 'ERR_SOCKET_DGRAM_IS_CONNECTED'),
  notConnected: (): NodeCodedError => coded(new Error('Not connected'), 'ERR_SOCKET_DGRAM_NOT_CONNECTED'),
  badPort: (name: string, port: unknown, allowZero: boolean): NodeCodedError =>
    coded(
      new RangeError(
        `${name} should be ${allowZero ? '>=' : '>'} 0 and < 65536. Received ${describeValue(port)}.`,
      ),
      'ERR_SOCKET_BAD_PORT',
    ),
  /** `expected` as Node words it: "of type string", "of type string or an instance of Buffer, ...". */
  invalidArgType: (name: string, expected: string, value: unknown): NodeCodedError =>
    coded(
      new TypeError(
        `The "${name}" ${name.includes('.') ? 'property' : 'argument'} must be ${expected}. Received ${describeValue(value)}`,
      ),
      'ERR_INVALID_ARG_TYPE',
    ),
  outOfBounds: (name: string): NodeCodedError =>
    coded(new RangeError(`"${name}" is outside of buffer bounds`), 'ERR_BUFFER_OUT_OF_BOUNDS'),
  outOfRange: (name: string, range: string, value: unknown): NodeCodedError =>
    coded(
      new RangeError(
        `The value of "${name}" is out of range. It must be ${range}. Received ${
          typeof value === 'number' && Number.isInteger(value) && Math.abs(value) > 2 ** 32
            ? String(value).replace(/\B(?=(\d{3})+(?!\d))/g, '_')
            : inspect(value)
        }`,
      ),
      'ERR_OUT_OF_RANGE',
    ),
};

export const BUFFER_TYPES = 'of type string or an instance of Buffer, TypedArray, or DataView';

/** A system error as libuv reports it: the errno of this platform, negated. */
export interface SystemError extends Error {
  code: string;
  errno: number;
  syscall: string;
  address?: string;
  port?: number;
  hostname?: string;
}

/** libuv's numbers for the errors that are not the platform's (getaddrinfo's). */
const UV_ONLY: Record<string, number> = { ENOTFOUND: -3008 };

export function errnoOf(code: string): number {
  const n = (constants.errno as Record<string, number | undefined>)[code];
  if (n !== undefined) return -n;
  return UV_ONLY[code] ?? -5; // EIO's number for what has none
}

/** Node's ErrnoException: "<syscall> <code>". */
export function errnoException(code: string, syscall: string, cause?: unknown): SystemError {
  const e = new Error(`${syscall} ${code}`, cause === undefined ? undefined : { cause }) as SystemError;
  e.errno = errnoOf(code);
  e.code = code;
  e.syscall = syscall;
  return e;
}

/** Node's ExceptionWithHostPort: "<syscall> <code> <address>:<port>" (or without the port). */
export function exceptionWithHostPort(
  code: string,
  syscall: string,
  address: string | undefined,
  port: number | undefined,
  cause?: unknown,
): SystemError {
  let details = '';
  if (port && port > 0) details = ` ${address}:${port}`;
  else if (address) details = ` ${address}`;
  const e = new Error(
    `${syscall} ${code}${details}`,
    cause === undefined ? undefined : { cause },
  ) as SystemError;
  e.code = code;
  e.errno = errnoOf(code);
  e.syscall = syscall;
  e.address = address;
  if (port) e.port = port;
  return e;
}

/** A name that is not an address and that we cannot resolve (there is no DNS here). */
export function notFound(hostname: string): SystemError {
  const e = new Error(`getaddrinfo ENOTFOUND ${hostname}`) as SystemError;
  e.errno = errnoOf('ENOTFOUND');
  e.code = 'ENOTFOUND';
  e.syscall = 'getaddrinfo';
  e.hostname = hostname;
  return e;
}
