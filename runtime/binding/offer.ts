// How a binding is set up: what a client asks for (an interface, a transport) and
// what each side is handed (a port, the peer's identity, and for shared memory the
// two rings, each side's tx being the other's rx).

import type { MessagePort } from 'node:worker_threads';
import { createRing, MAX_RING_BYTES, ringBytes } from '../../lib/shm/ring.ts';
import { FishnetError } from '../../protocols/errors.ts';
import type { ConnectOptions } from '../actor.ts';
import { badOption, checkOptions } from '../options.ts';
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
  /** Slots per ring the client asks for (a power of two); the server's policy decides. */
  readonly capacity?: number;
}

/** What a server decides about the rings of the shared-memory bindings to its service. */
export interface RingPolicy {
  /** Slots per ring when the client does not ask (a power of two; default 1024). */
  readonly capacity?: number;
  /** The most slots per ring a client may ask for (default 4096). */
  readonly maxCapacity?: number;
}

/** What the kernel keeps of an export: the exporter's interface (its slot size included) and its policy. */
export interface ExportInfo extends InterfaceId {
  /** Words per ring slot, from the exporter's own descriptor (never from a client). */
  readonly slotWords: number;
  readonly ring: Required<RingPolicy>;
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
export const DEFAULT_MAX_RING_CAPACITY = 4096;
/** Above this a server cannot raise its own limit: 2^20 slots, and MAX_RING_BYTES per ring. */
const HARD_MAX_CAPACITY = 1 << 20;

function isRingCapacity(n: unknown, max: number): n is number {
  return typeof n === 'number' && Number.isInteger(n) && n >= 2 && n <= max && (n & (n - 1)) === 0;
}

/** The exporter's side: its descriptor and ring policy, checked. */
export function exportInfo(d: InterfaceDescriptor<any, any>, policy: RingPolicy | undefined): ExportInfo {
  const id = interfaceId(d);
  const p = checkOptions<RingPolicy>(policy, 'ring policy', ['capacity', 'maxCapacity']);
  const maxCapacity = p.maxCapacity ?? DEFAULT_MAX_RING_CAPACITY;
  if (!isRingCapacity(maxCapacity, HARD_MAX_CAPACITY)) {
    badOption('ring.maxCapacity', maxCapacity, `a power of two in 2..${HARD_MAX_CAPACITY}`);
  }
  const capacity = p.capacity ?? Math.min(DEFAULT_RING_CAPACITY, maxCapacity);
  if (!isRingCapacity(capacity, maxCapacity)) {
    badOption('ring.capacity', capacity, `a power of two in 2..${maxCapacity} (ring.maxCapacity)`);
  }
  const slotWords = d.slotWords;
  if (slotWords !== 0 && ringBytes(maxCapacity, slotWords) > MAX_RING_BYTES) {
    throw new FishnetError(
      'RT_ERR_BAD_SPEC',
      `ring.maxCapacity ${maxCapacity} with slots of ${slotWords} words exceeds ${MAX_RING_BYTES} bytes per ring`,
    );
  }
  return { ...id, slotWords, ring: { capacity, maxCapacity } };
}
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
  exported: ExportInfo | undefined,
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
  if (!asked || !exported)
    throw new FishnetError('RT_ERR_NOT_SUPPORTED', 'the shared-memory transport needs a typed interface');
  if (!exported.slotWords) {
    throw new FishnetError('RT_ERR_NOT_SUPPORTED', `interface ${asked.name} has no message that fits a ring`);
  }
  // The server's policy decides what a connection may cost, not the client.
  const { capacity: byDefault, maxCapacity } = exported.ring;
  const capacity = req.capacity ?? byDefault;
  if (!isRingCapacity(capacity, HARD_MAX_CAPACITY)) {
    badOption('capacity', capacity, `a power of two in 2..${maxCapacity}`);
  }
  if (capacity > maxCapacity) {
    throw new FishnetError(
      'RT_ERR_OVER_LIMIT',
      `'${service}' allows rings of at most ${maxCapacity} slots; the client asked for ${capacity}`,
    );
  }
  const { slotWords } = exported;
  const c2s = createRing(capacity, slotWords);
  const s2c = createRing(capacity, slotWords);
  return [
    { tx: c2s, rx: s2c, capacity, slotWords },
    { tx: s2c, rx: c2s, capacity, slotWords },
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
  if (opts.transport !== undefined && opts.transport !== 'port' && opts.transport !== 'shm') {
    badOption('transport', opts.transport, "'port' or 'shm'");
  }
  if (opts.capacity !== undefined && !isRingCapacity(opts.capacity, HARD_MAX_CAPACITY)) {
    badOption('capacity', opts.capacity, `a power of two in 2..${HARD_MAX_CAPACITY}`);
  }
  return { iface: interfaceId(iface), transport: opts.transport, capacity: opts.capacity };
}
