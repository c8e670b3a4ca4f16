// Capabilities to privileged services.
//
// The embedding program marks a service name privileged and gets two grants: the
// right to export it and the right to connect to it. It hands them to actors at
// spawn. Each actor holds its grants in its own table (its cspace); inside the actor
// a capability is only a slot number in that table, which the kernel resolves
// against the asking actor: a slot copied into another actor names nothing there.
// This is how only netd reaches the driver's control interface, and how only the
// driver can be the one that exports it.

import { FishnetError } from '../protocols/errors.ts';
import type { CapabilityRef } from './actor.ts';

const grants = new WeakSet<object>();

/** A right to a privileged service, minted by Runtime.privileged(). Only the kernel can check one. */
export class Grant {
  constructor(
    readonly service: string,
    readonly right: 'export' | 'connect',
  ) {
    grants.add(this);
    Object.freeze(this);
  }
}

export function isGrant(x: unknown): x is Grant {
  return typeof x === 'object' && x !== null && grants.has(x);
}

export interface ServiceCapability {
  readonly service: string;
  /** Lets its holder export the service (give it to the one actor that implements it). */
  readonly export: Grant;
  /** Lets its holder bind to the service. */
  readonly connect: Grant;
}

/** One actor's capability table. */
export class CSpace {
  private readonly slots: Grant[] = [];

  /** Install the grants handed at spawn; returns what the actor sees in ctx.caps. */
  static fromSpawn(
    caps: Readonly<Record<string, unknown>> | undefined,
    where: string,
  ): {
    cspace: CSpace;
    refs: Record<string, CapabilityRef>;
  } {
    const cspace = new CSpace();
    const refs: Record<string, CapabilityRef> = {};
    for (const [key, g] of Object.entries(caps ?? {})) {
      if (!isGrant(g)) {
        throw new FishnetError(
          'RT_ERR_BAD_SPEC',
          `${where}: caps.${key} is not a grant from Runtime.privileged()`,
        );
      }
      const slot = cspace.slots.push(g) - 1;
      refs[key] = Object.freeze({ slot, service: g.service, right: g.right });
    }
    return { cspace, refs };
  }

  /** The grant in a slot, which must carry `right`. */
  resolve(slot: unknown, right: 'export' | 'connect'): Grant {
    const g = typeof slot === 'number' ? this.slots[slot] : undefined;
    if (!g) throw new FishnetError('RT_ERR_BAD_CAPABILITY', `no capability in slot ${String(slot)}`);
    if (g.right !== right) {
      throw new FishnetError(
        'RT_ERR_BAD_CAPABILITY',
        `the capability for '${g.service}' grants ${g.right}, not ${right}`,
      );
    }
    return g;
  }

  holds(service: string, right: 'export' | 'connect'): boolean {
    return this.slots.some((g) => g.service === service && g.right === right);
  }
}
