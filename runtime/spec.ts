// What a spawn, a child or a supervisor is asked to be, and the checks that turn a
// bad specification into RT_ERR_BAD_SPEC naming the field, before any thread starts.

import { FishnetError } from '../protocols/errors.ts';
import type { Grant } from './capabilities.ts';

/** OTP restart types: permanent always, transient after an abnormal exit, temporary never. */
export type RestartType = 'permanent' | 'transient' | 'temporary';
/** Milliseconds to wait for an orderly stop before killing, or OTP's brutal_kill / infinity. */
export type ShutdownPolicy = number | 'brutal_kill' | 'infinity';
export type Strategy = 'one_for_one' | 'one_for_all' | 'rest_for_one';

/** Heap and stack limits of the actor's thread (Node's Worker resourceLimits). */
export interface ResourceLimits {
  readonly maxOldGenerationSizeMb?: number;
  readonly maxYoungGenerationSizeMb?: number;
  readonly codeRangeSizeMb?: number;
  readonly stackSizeMb?: number;
}

/** Ping the actor's thread every intervalMs; kill it when it has not answered for timeoutMs. */
export interface WatchdogSpec {
  readonly intervalMs: number;
  readonly timeoutMs: number;
}

export interface ActorSpec<Args = unknown> {
  /** Path or file: URL of the module whose default export is defineActor(...). .ts and .js alike. */
  readonly module: string | URL;
  /** Unique among live actors; default: the module's file name and the actor id. */
  readonly name?: string;
  /** Structured-clone-safe; SharedArrayBuffers are shared. */
  readonly args?: Args;
  readonly restart?: RestartType;
  readonly shutdown?: ShutdownPolicy;
  readonly limits?: ResourceLimits;
  /** Capabilities the actor holds, by the names it will find them under in ctx.caps. */
  readonly caps?: Readonly<Record<string, Grant>>;
  readonly watchdog?: WatchdogSpec;
}

export interface ChildSpec<Args = unknown> extends ActorSpec<Args> {
  /** The child's id within its supervisor. */
  readonly id: string;
}

export interface SupervisorSpec {
  readonly name?: string;
  readonly strategy?: Strategy;
  /** At most `intensity` restarts in `periodMs`; one more and the supervisor gives up. OTP's defaults: 1 in 5 s. */
  readonly intensity?: number;
  readonly periodMs?: number;
  readonly children?: readonly (ChildSpec | SupervisorChildSpec)[];
}

export interface SupervisorChildSpec extends SupervisorSpec {
  readonly type: 'supervisor';
  readonly id: string;
  readonly restart?: RestartType;
}

export function isSupervisorChild(s: ChildSpec | SupervisorChildSpec): s is SupervisorChildSpec {
  return (s as SupervisorChildSpec).type === 'supervisor';
}

const RESTARTS = new Set(['permanent', 'transient', 'temporary']);
const STRATEGIES = new Set(['one_for_one', 'one_for_all', 'rest_for_one']);
const LIMIT_KEYS = new Set([
  'maxOldGenerationSizeMb',
  'maxYoungGenerationSizeMb',
  'codeRangeSizeMb',
  'stackSizeMb',
]);

function bad(where: string, what: string): never {
  throw new FishnetError('RT_ERR_BAD_SPEC', `${where}: ${what}`);
}

export function checkActorSpec(s: ActorSpec, where: string): void {
  if (typeof s !== 'object' || s === null) bad(where, 'a spec must be an object');
  if (!(s.module instanceof URL) && (typeof s.module !== 'string' || s.module === '')) {
    bad(where, '`module` must be a path or a file: URL');
  }
  if (s.name !== undefined && (typeof s.name !== 'string' || s.name === ''))
    bad(where, '`name` must be a non-empty string');
  if (s.restart !== undefined && !RESTARTS.has(s.restart)) {
    bad(where, `\`restart\` must be permanent, transient or temporary, not ${JSON.stringify(s.restart)}`);
  }
  if (
    s.shutdown !== undefined &&
    s.shutdown !== 'brutal_kill' &&
    s.shutdown !== 'infinity' &&
    !(typeof s.shutdown === 'number' && s.shutdown >= 0 && Number.isFinite(s.shutdown))
  ) {
    bad(where, '`shutdown` must be milliseconds >= 0, "brutal_kill" or "infinity"');
  }
  if (s.limits !== undefined) {
    if (typeof s.limits !== 'object' || s.limits === null) bad(where, '`limits` must be an object');
    for (const [k, v] of Object.entries(s.limits)) {
      if (!LIMIT_KEYS.has(k)) bad(where, `unknown resource limit \`${k}\``);
      if (typeof v !== 'number' || !(v > 0)) bad(where, `resource limit \`${k}\` must be a positive number`);
    }
  }
  if (s.watchdog !== undefined) {
    const w = s.watchdog;
    if (!(w && w.intervalMs > 0 && w.timeoutMs > 0))
      bad(where, '`watchdog` needs intervalMs > 0 and timeoutMs > 0');
  }
  if (s.caps !== undefined && (typeof s.caps !== 'object' || s.caps === null))
    bad(where, '`caps` must be an object');
}

export function checkSupervisorSpec(s: SupervisorSpec, where: string): void {
  if (typeof s !== 'object' || s === null) bad(where, 'a supervisor spec must be an object');
  if (s.strategy !== undefined && !STRATEGIES.has(s.strategy)) {
    bad(
      where,
      `\`strategy\` must be one_for_one, one_for_all or rest_for_one, not ${JSON.stringify(s.strategy)}`,
    );
  }
  if (s.intensity !== undefined && !(Number.isInteger(s.intensity) && s.intensity >= 0)) {
    bad(where, '`intensity` must be an integer >= 0');
  }
  if (s.periodMs !== undefined && !(s.periodMs > 0)) bad(where, '`periodMs` must be > 0');
  const ids = new Set<string>();
  for (const [i, c] of (s.children ?? []).entries()) {
    const at = `${where}.children[${i}]`;
    if (typeof c?.id !== 'string' || c.id === '') bad(at, 'every child needs a non-empty string `id`');
    if (ids.has(c.id)) bad(at, `duplicate child id '${c.id}'`);
    ids.add(c.id);
    if (isSupervisorChild(c)) checkSupervisorSpec(c, `${at} (${c.id})`);
    else checkActorSpec(c, `${at} (${c.id})`);
  }
}
