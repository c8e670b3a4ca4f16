// How a binding is set up: what a client asks for (an interface, a transport) and
// what each side is handed (a port, the peer's identity, and for shared memory the
// two rings, each side's tx being the other's rx).

import type { MessagePort } from 'node:worker_threads';
import { createRing } from '../../lib/shm/ring.ts';
import { FishnetError } from '../../protocols/errors.ts';
import type { ConnectOptions } from '../actor.ts';
import { Binding, type BindingId, type PeerInfo } from './binding.ts';
import type { InterfaceDescriptor, RingPair, Transport, TypedEndpoint } from './transport-mux.ts';

/** What identifies an interface on the wire: both sides must agree on it. */
export interface InterfaceId {
  readonly name: string;
  readonly hash: string;
}

export interface ConnectRequest {
  readonly iface?: InterfaceId;
  readonly transport?: Transport;
  /** Slots per ring (a power of two; default 1024). */
  readonly capacity?: number;
  /** Words per slot, from the client's interface descriptor. */
  readonly slotWords?: number;
}

export interface ConnectOffer {
  readonly bindingId: BindingId;
  readonly service: string;
  readonly peer: PeerInfo;
  readonly port: MessagePort;
  readonly iface?: InterfaceId;
  readonly rings?: RingPair;
}

export const DEFAULT_RING_CAPACITY = 1024;

export function interfaceId(d: InterfaceDescriptor<any, any>): InterfaceId {
  if (!d || typeof d.name !== 'string' || typeof d.hash !== 'string' || typeof d.client !== 'function') {
    throw new FishnetError(
      'RT_ERR_BAD_SPEC',
      'not an interface descriptor: pass the one generated from a .if file',
    );
  }
  return { name: d.name, hash: d.hash };
}

/**
 * The kernel's part: check that client and server speak the same interface, and
 * make the rings of a shared-memory binding. Returns [client's rings, server's rings].
 */
export function agree(
  service: string,
  exported: InterfaceId | undefined,
  req: ConnectRequest,
): [RingPair | undefined, RingPair | undefined] {
  const asked = req.iface;
  if (exported || asked) {
    if (!exported || !asked || exported.name !== asked.name || exported.hash !== asked.hash) {
      const show = (i?: InterfaceId) => (i ? `${i.name} (${i.hash})` : 'no interface (a plain binding)');
      throw new FishnetError(
        'RT_ERR_INTERFACE_MISMATCH',
        `'${service}' is exported as ${show(exported)}, the client asked for ${show(asked)}`,
      );
    }
  }
  if ((req.transport ?? 'port') === 'port') return [undefined, undefined];
  if (req.transport !== 'shm') {
    throw new FishnetError(
      'RT_ERR_BAD_SPEC',
      `transport must be 'port' or 'shm', not ${JSON.stringify(req.transport)}`,
    );
  }
  if (!asked)
    throw new FishnetError('RT_ERR_NOT_SUPPORTED', 'the shared-memory transport needs a typed interface');
  if (!req.slotWords) {
    throw new FishnetError('RT_ERR_NOT_SUPPORTED', `interface ${asked.name} has no message that fits a ring`);
  }
  const capacity = req.capacity ?? DEFAULT_RING_CAPACITY;
  const c2s = createRing(capacity, req.slotWords);
  const s2c = createRing(capacity, req.slotWords);
  return [
    { tx: c2s, rx: s2c },
    { tx: s2c, rx: c2s },
  ];
}

/** Either side: the binding for an offer. */
export function openBinding(
  offer: ConnectOffer,
  role: 'client' | 'server',
  release: (id: BindingId) => void,
): Binding {
  return new Binding({
    id: offer.bindingId,
    service: offer.service,
    role,
    peer: offer.peer,
    port: offer.port,
    release,
  });
}

/** Either side: the typed endpoint over a binding. */
export function typedEndpoint<E extends TypedEndpoint>(
  iface: InterfaceDescriptor<any, any>,
  binding: Binding,
  rings: RingPair | undefined,
  role: 'client' | 'server',
): E {
  return (role === 'client' ? iface.client(binding, rings) : iface.server(binding, rings)) as E;
}

/** What a client asks the kernel for when it connects with `iface`. */
export function connectRequest(iface: InterfaceDescriptor<any, any>, opts: ConnectOptions): ConnectRequest {
  return {
    iface: interfaceId(iface),
    transport: opts.transport,
    capacity: opts.capacity,
    slotWords: iface.slotWords,
  };
}
