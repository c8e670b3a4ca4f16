// netd's PortService against a driver stand-in whose register_filter answers when the
// test says: a port closed (or opened) while readdress() re-registers its filters
// (races an attacker found: a closed port's new filters outlived it, and took the
// next owner's frames; a port opening during an address change kept the old address).
import test from 'ava';
import { PortAllocator } from '../../actors/netd/ports.ts';
import { PortService } from '../../actors/netd/service.ts';
import { type Ipv4Addr, ipv4, type Mac, mac } from '../../lib/net/index.ts';

interface Pending {
  rx: number;
  resolve: (v: { filter_id: number }) => void;
}

function rig() {
  const live = new Map<number, number>(); // filter id -> rx buffer
  const codes = new Map<number, Uint8Array>(); // filter id -> its RX code
  let nextId = 1;
  let hold = false;
  const pending: Pending[] = [];
  const driver = {
    rpc: {
      register_filter: (rx: number, _tx: number, rxCode: Uint8Array) =>
        new Promise<{ filter_id: number }>((resolve) => {
          const done = () => {
            const id = nextId++;
            live.set(id, rx);
            codes.set(id, rxCode);
            resolve({ filter_id: id });
          };
          if (hold) pending.push({ rx, resolve: () => done() });
          else done();
        }),
      deregister_filter: async (id: number) => {
        if (!live.delete(id)) throw new Error('no such filter');
        return {};
      },
      // Buffers 10/11 are client 1's, 20/21 client 2's.
      get_buffer_owner: async (b: number) => ({ owner: b < 20 ? 1 : 2 }),
    },
  };
  const address = { ip: ipv4('10.0.0.2'), mask: ipv4('255.255.255.0'), gw: 0 as Ipv4Addr };
  const svc = new PortService(driver as never, new PortAllocator(), mac('02:00:00:00:00:01') as Mac, address);
  const client = (id: number) => {
    const ep = {
      peer: { id, name: `c${id}` },
      binding: { onDisconnect: () => {} },
      rpc: {} as Record<string, (...a: unknown[]) => Promise<unknown>>,
      tx: { ip_changed: () => {} },
    };
    svc.attach(ep as never, false);
    return ep.rpc;
  };
  return {
    live,
    codes,
    svc,
    address,
    client,
    setHold: (h: boolean) => {
      hold = h;
    },
    release: () => {
      for (const p of pending.splice(0)) p.resolve({ filter_id: 0 });
    },
  };
}

const tick = () => new Promise((r) => setTimeout(r, 5));

test('close_port while readdress() re-registers: the new filters go with the port; the next owner has the only ones', async (t) => {
  const r = rig();
  const c1 = r.client(1);
  const c2 = r.client(2);
  await c1.bind_port!(1, 5000, 10, 11);
  t.is(r.live.size, 2);
  r.address.ip = ipv4('10.0.0.3');
  r.setHold(true);
  const re = r.svc.readdress();
  await tick(); // readdress is waiting on register_filter for port 5000
  await c1.close_port!(1, 5000); // deregisters the old pair, frees the port
  r.setHold(false);
  r.release();
  await re;
  t.deepEqual([...r.live.entries()], [], 'nothing left in the driver after the close');
  t.deepEqual(r.svc.list(), []);
  // Another client takes the port: its filters are registered AFTER client 1's leaked ones.
  await c2.bind_port!(1, 5000, 20, 21);
  t.deepEqual([...r.live.values()], [20, 20], "only client 2's pair is registered");
});

test('a port that opens while the address changes gets filters for the new address', async (t) => {
  const r = rig();
  const c1 = r.client(1);
  r.setHold(true);
  const opening = c1.bind_port!(1, 6000, 10, 11); // registering for 10.0.0.2
  await tick();
  r.address.ip = ipv4('10.0.0.3');
  const re = r.svc.readdress(); // skips the port: it is not 'open' yet
  r.setHold(false);
  r.release();
  await opening;
  await re;
  // Two filters live, both built for 10.0.0.3 (its 32-bit immediate is in the code).
  t.is(r.live.size, 2);
  const has = (code: Uint8Array, ip: number) => {
    const b = [ip & 255, (ip >>> 8) & 255, (ip >>> 16) & 255, ip >>> 24];
    for (let i = 0; i + 4 <= code.length; i++) if (b.every((x, k) => code[i + k] === x)) return true;
    return false;
  };
  for (const id of r.live.keys()) {
    t.true(has(r.codes.get(id)!, ipv4('10.0.0.3')), `filter ${id} is for the new address`);
    t.false(has(r.codes.get(id)!, ipv4('10.0.0.2')), `filter ${id} is not for the old one`);
  }
});
