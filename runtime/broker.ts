// The binding broker: makes the channel between a client and the exporter of a
// service, keeps the table of who is bound to whom, and tells each side when the
// other is gone. The embedding program can be either side (it is "the host").

import { MessageChannel } from 'node:worker_threads';
import { FishnetError } from '../protocols/errors.ts';
import type { Binding, BindingId, PeerInfo } from './binding/binding.ts';
import {
  agree,
  type ConnectOffer,
  type ConnectRequest,
  openBinding,
  typedEndpoint,
} from './binding/offer.ts';
import type { InterfaceDescriptor } from './binding/transport-mux.ts';
import type { NameService } from './names.ts';
import type { ActorProcess } from './process.ts';
import { type ActorId, type ExitReason, HOST_ID } from './reasons.ts';
import type { ProcessTable } from './table.ts';

export const HOST = Symbol('host');

/** How long a server's onConnect may take when the client gave no time-out of its own. */
export const CONNECT_TIMEOUT_MS = 10_000;
/** Either side of a binding: an actor, or the embedding program. */
export type Party = ActorProcess | typeof HOST;

interface BindingRecord {
  readonly client: ActorId;
  readonly server: ActorId;
  readonly service: string;
}

interface HostExport {
  readonly onConnect: (endpoint: any) => unknown;
  readonly iface?: InterfaceDescriptor;
}

export class BindingBroker {
  private readonly bindings = new Map<BindingId, BindingRecord>();
  private readonly hostExports = new Map<string, HostExport>();
  private readonly hostBindings = new Map<BindingId, Binding>();
  private nextBinding = 1;

  constructor(
    private readonly procs: ProcessTable,
    private readonly names: NameService,
  ) {}

  get size(): number {
    return this.bindings.size;
  }

  get hostSize(): number {
    return this.hostBindings.size;
  }

  /** The service a party names (a string, or a slot of its capability table), checked against privilege. */
  serviceName(p: Party, key: { name?: unknown; slot?: unknown }, right: 'export' | 'connect'): string {
    if (key.slot !== undefined) {
      if (p === HOST)
        throw new FishnetError('RT_ERR_BAD_CAPABILITY', 'the embedding program names services directly');
      return p.cspace.resolve(key.slot, right).service;
    }
    if (typeof key.name !== 'string' || key.name === '') {
      throw new FishnetError('RT_ERR_BAD_SPEC', 'a service name must be a non-empty string');
    }
    if (p !== HOST && this.names.isPrivileged(key.name) && !p.cspace.holds(key.name, right)) {
      throw new FishnetError('RT_ERR_NOT_PRIVILEGED', `'${key.name}' (${right}) by ${p.name}`);
    }
    return key.name;
  }

  hostExport(service: string, exp: HostExport): void {
    this.hostExports.set(service, exp);
  }

  /** Make a binding between `client` and the exporter of a service; returns the client's end. */
  async connect(
    client: Party,
    key: { name?: unknown; slot?: unknown },
    timeoutMs: number | undefined,
    req: ConnectRequest,
  ): Promise<ConnectOffer> {
    const service = this.serviceName(client, key, 'connect');
    const waiter = client === HOST ? HOST_ID : client.id;
    const deadline = performance.now() + (timeoutMs ?? CONNECT_TIMEOUT_MS);
    let owner = this.names.owner(service);
    if (owner === undefined) {
      if (timeoutMs === undefined) throw new FishnetError('RT_ERR_SERVICE_NOT_FOUND', `'${service}'`);
      owner = await this.names.waitFor(service, timeoutMs, waiter);
    }
    // The server's onConnect gets what is left of the client's time-out (or a default):
    // a server that never answers must not hold the client, nor a binding, for ever.
    const connectMs = Math.max(1, Math.min(deadline - performance.now(), 2 ** 31 - 1));
    const clientId = client === HOST ? HOST_ID : client.id;
    const server = owner === HOST_ID ? HOST : this.procs.get(owner);
    if (!server || (client !== HOST && client.state === 'dead')) {
      throw new FishnetError('RT_ERR_SERVICE_NOT_FOUND', `'${service}'`);
    }
    const [clientRings, serverRings] = agree(service, this.names.exportOf(service), req);
    const iface = this.names.interfaceOf(service);
    const bindingId = this.nextBinding++;
    const { port1, port2 } = new MessageChannel();
    this.bindings.set(bindingId, { client: clientId, server: owner, service });
    if (client !== HOST) client.bindings.add(bindingId);
    if (server !== HOST) server.bindings.add(bindingId);
    const toServer: ConnectOffer = {
      bindingId,
      service,
      peer: peerOf(client),
      port: port2,
      iface,
      rings: serverRings,
    };
    try {
      if (server === HOST) {
        const exp = this.hostExports.get(service)!;
        const b = this.hostBinding(toServer, 'server');
        try {
          await withTimeout(
            Promise.resolve(
              exp.onConnect(exp.iface ? typedEndpoint(exp.iface, b, serverRings, 'server') : b),
            ),
            connectMs,
            service,
          );
        } catch (e) {
          b.discard();
          throw e instanceof FishnetError && e.is('RT_ERR_TIMEOUT')
            ? e
            : FishnetError.wrap(e, 'RT_ERR_CONNECT_REFUSED');
        }
      } else {
        await server.ctl.request('connect', toServer, [port2], connectMs).catch((e) => {
          // Abandoned: the server's side of it ends too, whenever it gets there.
          if (e instanceof FishnetError && e.is('RT_ERR_TIMEOUT') && server.state !== 'dead') {
            server.ctl.event('closed', { bindingId });
          }
          throw e;
        });
      }
    } catch (e) {
      this.unbind(bindingId);
      port1.close();
      if (e instanceof FishnetError && e.is('RT_ERR_ACTOR_DEAD')) {
        throw new FishnetError('RT_ERR_PEER_DIED', `'${service}': its exporter died during the connect`);
      }
      throw e;
    }
    if (!this.bindings.has(bindingId)) {
      // The server died while accepting; the client gets a clear error, not a dead binding.
      port1.close();
      throw new FishnetError('RT_ERR_PEER_DIED', `'${service}': its exporter died during the connect`);
    }
    return { bindingId, service, peer: peerOf(server), port: port1, iface, rings: clientRings };
  }

  /** The embedding program's end of a binding. */
  hostBinding(offer: ConnectOffer, role: 'client' | 'server'): Binding {
    const b = openBinding(offer, role, (id) => {
      this.hostBindings.delete(id);
      this.unbind(id);
    });
    this.hostBindings.set(b.id, b);
    return b;
  }

  /**
   * An actor says it is done with a binding (only one it is party to): the other side
   * is told as well, so that neither can leave the other waiting on a binding the
   * kernel has forgotten.
   */
  release(p: ActorProcess, bindingId: unknown): void {
    if (typeof bindingId !== 'number' || !p.bindings.has(bindingId)) return;
    const rec = this.bindings.get(bindingId);
    this.unbind(bindingId);
    if (!rec) return;
    const other = rec.client === p.id ? rec.server : rec.client;
    if (other === HOST_ID) this.hostBindings.get(bindingId)?.peerClosed();
    else {
      const q = this.procs.get(other);
      if (q && q.state !== 'dead') q.ctl.event('closed', { bindingId });
    }
  }

  /** An actor died: the other side of each of its bindings hears of it. */
  partyDied(p: ActorProcess, reason: ExitReason): void {
    for (const bid of p.bindings) {
      const rec = this.bindings.get(bid);
      if (!rec) continue;
      this.bindings.delete(bid);
      this.peerDied(rec.client === p.id ? rec.server : rec.client, bid, reason);
    }
    p.bindings.clear();
  }

  closeHost(): void {
    for (const b of [...this.hostBindings.values()]) b.close();
  }

  private unbind(bindingId: BindingId): void {
    const rec = this.bindings.get(bindingId);
    if (!rec) return;
    this.bindings.delete(bindingId);
    this.procs.get(rec.client)?.bindings.delete(bindingId);
    this.procs.get(rec.server)?.bindings.delete(bindingId);
  }

  private peerDied(survivor: ActorId, bindingId: BindingId, reason: ExitReason): void {
    if (survivor === HOST_ID) {
      this.hostBindings.get(bindingId)?.peerDied(reason);
      return;
    }
    const p = this.procs.get(survivor);
    if (!p || p.state === 'dead') return;
    p.bindings.delete(bindingId);
    p.ctl.event('disconnect', { bindingId, reason });
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, service: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new FishnetError(
            'RT_ERR_TIMEOUT',
            `'${service}': the server did not accept within ${Math.round(ms)} ms`,
          ),
        ),
      ms,
    );
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

export function peerOf(p: Party): PeerInfo {
  return p === HOST ? { id: HOST_ID, name: 'host' } : { id: p.id, name: p.name };
}
