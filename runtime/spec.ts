// What a spawn, a child or a supervisor is asked to be, and the checks that turn a
// bad specification into RT_ERR_BAD_SPEC naming the field, before any thread starts.

import { FishnetError } from '../protocols/errors.ts';
import type { Grant } from './capabilities.ts';
import { describeValue } from './options.ts';

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
const LIMIT_KEYS = ['maxOldGenerationSizeMb', 'maxYoungGenerationSizeMb', 'codeRangeSizeMb', 'stackSizeMb'];
const ACTOR_KEYS = ['module', 'name', 'args', 'restart', 'shutdown', 'limits', 'caps', 'watchdog', 'id'];
const SUPERVISOR_KEYS = ['name', 'strategy', 'intensity', 'periodMs', 'children', 'type', 'id', 'restart'];
/** A day: longer than any time-out a program means, and safely inside setTimeout's range. */
const MAX_MS = 86_400_000;

function bad(where: string, what: string): never {
  throw new FishnetError('RT_ERR_BAD_SPEC', `${where}: ${what}`);
}

function unknownKeys(s: object, known: readonly string[], where: string): void {
  for (const k of Object.keys(s)) {
    if (!known.includes(k)) bad(where, `unknown field \`${k}\` (known: ${known.join(', ')})`);
  }
}

function milliseconds(v: unknown, where: string, field: string): void {
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0 || v > MAX_MS) {
    bad(where, `\`${field}\` must be milliseconds in (0, ${MAX_MS}], not ${describeValue(v)}`);
  }
}

export function checkActorSpec(s: ActorSpec, where: string): void {
  if (typeof s !== 'object' || s === null) bad(where, 'a spec must be an object');
  unknownKeys(s, ACTOR_KEYS, where);
  if (!(s.module instanceof URL) && (typeof s.module !== 'string' || s.module === '')) {
    bad(where, `\`module\` must be a path or a file: URL, not ${describeValue(s.module)}`);
  }
  if (s.name !== undefined && (typeof s.name !== 'string' || s.name === ''))
    bad(where, `\`name\` must be a non-empty string, not ${describeValue(s.name)}`);
  if (s.restart !== undefined && !RESTARTS.has(s.restart)) {
    bad(where, `\`restart\` must be permanent, transient or temporary, not ${describeValue(s.restart)}`);
  }
  if (
    s.shutdown !== undefined &&
    s.shutdown !== 'brutal_kill' &&
    s.shutdown !== 'infinity' &&
    !(typeof s.shutdown === 'number' && s.shutdown >= 0 && s.shutdown <= MAX_MS)
  ) {
    bad(
      where,
      `\`shutdown\` must be milliseconds in [0, ${MAX_MS}], "brutal_kill" or "infinity", not ${describeValue(s.shutdown)}`,
    );
  }
  if (s.limits !== undefined) {
    if (typeof s.limits !== 'object' || s.limits === null) bad(where, '`limits` must be an object');
    for (const [k, v] of Object.entries(s.limits)) {
      if (!LIMIT_KEYS.includes(k)) bad(where, `unknown resource limit \`${k}\``);
      if (typeof v !== 'number' || !Number.isFinite(v) || !(v > 0) || v > 65536)
        bad(where, `resource limit \`${k}\` must be a number of MB in (0, 65536], not ${describeValue(v)}`);
    }
  }
  if (s.watchdog !== undefined) {
    const w = s.watchdog;
    if (typeof w !== 'object' || w === null) bad(where, '`watchdog` must be { intervalMs, timeoutMs }');
    unknownKeys(w, ['intervalMs', 'timeoutMs'], `${where}.watchdog`);
    milliseconds(w.intervalMs, where, 'watchdog.intervalMs');
    milliseconds(w.timeoutMs, where, 'watchdog.timeoutMs');
  }
  if (s.caps !== undefined && (typeof s.caps !== 'object' || s.caps === null))
    bad(where, '`caps` must be an object');
  if (s.args !== undefined) {
    // What a thread receives is a structured clone: find out now, before a thread is taken.
    try {
      structuredClone(s.args);
    } catch (e) {
      bad(where, `\`args\` cannot be sent to a thread: ${(e as Error).message}`);
    }
  }
}

export function checkSupervisorSpec(s: SupervisorSpec, where: string): void {
  if (typeof s !== 'object' || s === null) bad(where, 'a supervisor spec must be an object');
  unknownKeys(s, SUPERVISOR_KEYS, where);
  if (s.name !== undefined && (typeof s.name !== 'string' || s.name === ''))
    bad(where, `\`name\` must be a non-empty string, not ${describeValue(s.name)}`);
  if (s.strategy !== undefined && !STRATEGIES.has(s.strategy)) {
    bad(
      where,
      `\`strategy\` must be one_for_one, one_for_all or rest_for_one, not ${describeValue(s.strategy)}`,
    );
  }
  if (
    s.intensity !== undefined &&
    !(
      typeof s.intensity === 'number' &&
      Number.isInteger(s.intensity) &&
      s.intensity >= 0 &&
      s.intensity <= 1e6
    )
  ) {
    bad(where, `\`intensity\` must be an integer in 0..1000000, not ${describeValue(s.intensity)}`);
  }
  if (s.periodMs !== undefined) milliseconds(s.periodMs, where, 'periodMs');
  const restart = (s as SupervisorChildSpec).restart;
  if (restart !== undefined && !RESTARTS.has(restart)) {
    bad(where, `\`restart\` must be permanent, transient or temporary, not ${describeValue(restart)}`);
  }
  if (s.children !== undefined && !Array.isArray(s.children)) bad(where, '`children` must be an array');
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
