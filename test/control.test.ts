// fishnet up's control socket (embed/control.ts) against good and hostile clients.
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { ControlServer, controlPath, controlRequest } from '../embed/control.ts';
import { eventually } from './helpers/runtime.ts';

const dir = mkdtempSync(join(tmpdir(), 'fishnet-control-'));
process.env.FISHNET_RUN_DIR = dir;
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

function connect(name: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = createConnection(controlPath(name));
    s.once('connect', () => {
      s.on('error', () => {}); // the server may reset it (at close): that is the test's business
      resolve(s);
    });
    s.once('error', reject);
  });
}

function replies(s: Socket, n: number): Promise<unknown[]> {
  return new Promise((resolve) => {
    let buf = '';
    const out: unknown[] = [];
    s.setEncoding('utf8');
    s.on('data', (d: string) => {
      buf += d;
      let nl = buf.indexOf('\n');
      while (nl >= 0) {
        out.push(JSON.parse(buf.slice(0, nl)));
        buf = buf.slice(nl + 1);
        nl = buf.indexOf('\n');
      }
      if (out.length >= n) resolve(out);
    });
    s.on('close', () => resolve(out));
  });
}

test.serial('answers in order, one at a time; bad requests get errors, never a crash', async (t) => {
  let calls = 0;
  let inFlight = 0;
  let maxInFlight = 0;
  const server = await ControlServer.listen('c1', {
    count: async () => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await new Promise((r) => setTimeout(r, 1));
      inFlight--;
      return ++calls;
    },
    fails: () => {
      throw new Error('it broke');
    },
  });
  try {
    t.is(await controlRequest('c1', 'count'), 1);
    await t.throwsAsync(controlRequest('c1', 'fails'), { message: 'it broke' });
    for (const op of ['__proto__', 'constructor', 'toString', 'nope']) {
      await t.throwsAsync(controlRequest('c1', op), { message: /unknown op/ }, op);
    }
    // 50 requests in one write: 50 answers, in order, never two handlers at once.
    const s = await connect('c1');
    const got = replies(s, 53);
    s.write('{"op":"count"}\n'.repeat(50) + 'not json\nnull\n{"op":1}\n');
    const r = (await got) as { ok: boolean; result?: number; error?: string }[];
    t.deepEqual(
      r.slice(0, 50).map((x) => x.result),
      Array.from({ length: 50 }, (_, i) => i + 2),
    );
    t.is(maxInFlight, 1);
    t.true(r.slice(50).every((x) => x.ok === false));
    s.destroy();
    // A line past 64 KiB: an error, and the connection ends.
    const big = await connect('c1');
    const answer = replies(big, 1);
    big.write('x'.repeat(70 << 10));
    t.deepEqual((await answer)[0], { ok: false, error: 'a request is one line of at most 65536 bytes' });
  } finally {
    await server.close();
  }
});

test.serial(
  'at most 32 connections; one name is served once; a stale socket file is taken over',
  async (t) => {
    const server = await ControlServer.listen('c2', { ping: () => 'pong' });
    const held: Socket[] = [];
    try {
      for (let i = 0; i < 32; i++) held.push(await connect('c2'));
      const extra = await connect('c2');
      t.deepEqual((await replies(extra, 1))[0], { ok: false, error: 'at most 32 connections at once' });
      await t.throwsAsync(ControlServer.listen('c2', {}), { message: /a machine named 'c2' is already up/ });
      for (const s of held.splice(0)) s.destroy();
      // Served again once the server has seen the others go (however long that takes it).
      t.true(
        await eventually(async () => (await controlRequest('c2', 'ping').catch(() => undefined)) === 'pong'),
        'served again once the others went',
      );
    } finally {
      for (const s of held) s.destroy();
      await server.close();
    }
    await t.throwsAsync(controlRequest('c2', 'ping'), { message: /no machine named 'c2' is up/ });
  },
);

test.serial(
  "an embedded machine's control socket: fishnet ports, filters and stats reach it; shutdown closes it",
  async (t) => {
    const { createNetwork } = await import('../embed/fishnet.ts');
    const net = await createNetwork({ runtimeOptions: { prestart: 0 } });
    try {
      const m = await net.boot({ name: 'emb', address: '10.5.0.2/24' });
      await m.serveControl({ hello: () => 'from the program' });
      t.deepEqual(await controlRequest('emb', 'ports'), []);
      const filters = (await controlRequest('emb', 'filters')) as {
        kind: string;
        ownerName: string;
        for: string;
      }[];
      // netd's own: its port for ICMP errors' sake aside, the ARP pair and the default buffer.
      t.deepEqual(
        filters
          .filter((f) => f.kind === 'arp' || f.kind === 'default')
          .map((f) => [f.kind, f.ownerName, f.for]),
        [
          ['arp', 'emb/netd', 'ARP, copied to every client'],
          ['default', 'emb/netd', 'what no filter claims'],
        ],
      );
      t.true(
        filters.every((f) => f.ownerName === 'emb/netd'),
        "no filter but netd's",
      );
      t.is(await controlRequest('emb', 'lease'), null, 'a static address has no lease');
      t.like(await controlRequest('emb', 'stats'), { machine: 'emb', address: { ip: 0x0a050002 } });
      t.is(await controlRequest('emb', 'hello'), 'from the program');
      await t.throwsAsync(m.serveControl(), { message: /serves its control socket already/ });
    } finally {
      await net.close();
    }
    await t.throwsAsync(controlRequest('emb', 'ports'), { message: /no machine named 'emb' is up/ });
  },
);
