// Handles the embedding program holds: ActorRef for an actor, SupervisorRef for a
// supervisor. They stay valid after death and report what happened.

import type { Remote } from './management.ts';
import { checkName, checkOptions, checkTimeout } from './options.ts';
import type { ActorProcess, ProcessState } from './process.ts';
import type { ActorId, ExitReason } from './reasons.ts';
import type { ChildSpec, SupervisorChildSpec } from './spec.ts';
import type { ChildInfo, Supervisor } from './supervisor.ts';

const refs = new WeakMap<ActorProcess, ActorRef<any>>();
const supRefs = new WeakMap<Supervisor, SupervisorRef>();

export class ActorRef<Api = unknown> {
  private constructor(private readonly p: ActorProcess) {}

  /** @internal one ref per process */
  static of<Api>(p: ActorProcess): ActorRef<Api> {
    let r = refs.get(p);
    if (!r) refs.set(p, (r = new ActorRef<Api>(p)));
    return r as ActorRef<Api>;
  }

  get id(): ActorId {
    return this.p.id;
  }

  get name(): string {
    return this.p.name;
  }

  get state(): ProcessState {
    return this.p.state;
  }

  /** Why it exited; undefined while it lives. */
  get exitReason(): ExitReason | undefined {
    return this.p.reason;
  }

  /** Resolves with the exit reason when the actor dies. */
  get exited(): Promise<ExitReason> {
    return this.p.exited;
  }

  /**
   * What the actor's start() returned, as a Comlink remote. Calls reject with
   * RT_ERR_ACTOR_DEAD when the actor dies instead of hanging.
   */
  get api(): Remote<Api> {
    return this.p.mgmt.remoteWith() as Remote<Api>;
  }

  /** The same remote, with calls that also reject with RT_ERR_TIMEOUT after timeoutMs. */
  manage(opts: { timeoutMs?: number } = {}): Remote<Api> {
    const o = checkOptions<{ timeoutMs: number }>(opts, 'manage options', ['timeoutMs']);
    return this.p.mgmt.remoteWith(checkTimeout(o.timeoutMs, 'manage: timeoutMs')) as Remote<Api>;
  }

  /** Terminate the thread at once (also one stuck in a loop). Killing a dead actor returns its old reason. */
  kill(): Promise<ExitReason> {
    return this.p.kill('kill');
  }

  /**
   * Ask the actor to stop (its onShutdown hooks run), killing it after timeoutMs.
   * A supervised permanent actor is restarted afterwards, as in OTP; use its
   * supervisor's terminateChild to stop it for good.
   */
  stop(timeoutMs = 5000): Promise<ExitReason> {
    const ms = checkTimeout(timeoutMs, 'stop: timeoutMs')!;
    return this.p.stop(ms === Infinity ? 'infinity' : ms);
  }

  toString(): string {
    return `${this.p.name}#${this.p.id}`;
  }
}

export class SupervisorRef {
  private constructor(private readonly s: Supervisor) {}

  /** @internal */
  static of(s: Supervisor): SupervisorRef {
    let r = supRefs.get(s);
    if (!r) supRefs.set(s, (r = new SupervisorRef(s)));
    return r;
  }

  get name(): string {
    return this.s.name;
  }

  get exited(): Promise<ExitReason> {
    return this.s.exited;
  }

  whichChildren(): ChildInfo[] {
    return this.s.whichChildren();
  }

  /** The running actor or supervisor of a child (a restart makes a new one). */
  child(id: string): ActorRef | SupervisorRef | undefined {
    return wrap(this.s.childNow(checkName(id, 'child: the id')));
  }

  async startChild(spec: ChildSpec | SupervisorChildSpec): Promise<ActorRef | SupervisorRef> {
    return wrap(await this.s.startChild(spec))!;
  }

  async terminateChild(id: string): Promise<void> {
    return this.s.terminateChild(checkName(id, 'terminateChild: the id'));
  }

  async restartChild(id: string): Promise<ActorRef | SupervisorRef> {
    return wrap(await this.s.restartChild(checkName(id, 'restartChild: the id')))!;
  }

  async deleteChild(id: string): Promise<void> {
    return this.s.deleteChild(checkName(id, 'deleteChild: the id'));
  }
}

function wrap(x: ActorProcess | Supervisor | undefined): ActorRef | SupervisorRef | undefined {
  if (!x) return undefined;
  return 'id' in x ? ActorRef.of(x) : SupervisorRef.of(x);
}
