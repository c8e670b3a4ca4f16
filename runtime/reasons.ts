// Identities and exit reasons: the vocabulary of supervision (after Erlang/OTP).

/** An actor's identity. Unique for the life of a runtime, never reused; a restart gets a new one. */
export type ActorId = number & { readonly __brand?: 'ActorId' };
/** One monitor. Monitoring twice gives two refs and two DOWNs. */
export type MonitorRef = number & { readonly __brand?: 'MonitorRef' };

/** The embedding program's own identity, for bindings and monitors it holds. */
export const HOST_ID = 0 as ActorId;

export type ExitReason =
  /** start() finished and the actor called ctx.exit(), or its thread ran out of work. */
  | { readonly kind: 'normal' }
  /** Stopped in an orderly way by its supervisor or the runtime. */
  | { readonly kind: 'shutdown' }
  /** process.exit(code) or ctx.exit(code) with a non-zero code. */
  | { readonly kind: 'exit'; readonly code: number }
  /** An uncaught exception or unhandled rejection, or start() threw. */
  | { readonly kind: 'error'; readonly name: string; readonly message: string; readonly stack?: string }
  /** Terminated from outside: kill(), a shutdown that timed out, or the watchdog found it unresponsive. */
  | { readonly kind: 'killed'; readonly cause: 'kill' | 'shutdown-timeout' | 'watchdog' }
  /** It reached its resource limits (heap). */
  | { readonly kind: 'oom'; readonly message: string }
  /** A supervisor gave up after too many restarts (only supervisors exit with this). */
  | { readonly kind: 'restart-intensity'; readonly restarts: number; readonly periodMs: number }
  /** The actor was already dead, or never existed, when the monitor was set. */
  | { readonly kind: 'noproc' };

export interface Down {
  readonly ref: MonitorRef;
  readonly id: ActorId;
  readonly name: string;
  readonly reason: ExitReason;
}

export const NORMAL: ExitReason = Object.freeze({ kind: 'normal' });
export const SHUTDOWN: ExitReason = Object.freeze({ kind: 'shutdown' });
export const NOPROC: ExitReason = Object.freeze({ kind: 'noproc' });

/** OTP's rule: normal and shutdown are not failures (a transient child is not restarted for them). */
export function isAbnormal(r: ExitReason): boolean {
  return r.kind !== 'normal' && r.kind !== 'shutdown';
}

export function errorReason(e: unknown): ExitReason {
  if (e instanceof Error) return { kind: 'error', name: e.name, message: e.message, stack: e.stack };
  return { kind: 'error', name: 'Error', message: String(e) };
}

/** One line for logs and demos: "error: TypeError: x is undefined". */
export function describeReason(r: ExitReason): string {
  switch (r.kind) {
    case 'exit':
      return `exit code ${r.code}`;
    case 'error':
      return `error: ${r.name}: ${r.message}`;
    case 'killed':
      return `killed (${r.cause})`;
    case 'oom':
      return `out of memory: ${r.message}`;
    case 'restart-intensity':
      return `gave up after ${r.restarts} restarts in ${r.periodMs} ms`;
    default:
      return r.kind;
  }
}
