// The socket API's argument and state errors, table-driven against node:dgram itself:
// every case runs on a real node:dgram socket (bound to 127.0.0.1 only) and on ours,
// and what each throws (class, code, message) or answers must be the same. Then the
// errors that come later, by callback or event, field by field.
import dgram from 'node:dgram';
import test from 'ava';
import { createSocket, Socket } from '../../lib/lwip/dgram.ts';
import { udpFrame } from '../../lib/net/index.ts';
import { once, PEER, PEER_MAC, rig, US, US_MAC } from './helpers.ts';

type AnySocket = dgram.Socket | Socket;
type State = 'fresh' | 'bound' | 'connected' | 'closed';

interface Outcome {
  readonly threw?: { name: string; code: unknown; message: string };
  readonly returned?: string;
}

function outcome(f: () => unknown): Outcome {
  try {
    const v = f();
    return { returned: v === undefined ? 'undefined' : typeof v === 'object' ? 'object' : String(v) };
  } catch (e) {
    const err = e as Error & { code?: unknown };
    return { threw: { name: err.name, code: err.code, message: err.message } };
  }
}

const any = (s: AnySocket) => s as any;

const CASES: [State, string, (s: AnySocket) => unknown][] = [
  ['fresh', 'send without a port', (s) => any(s).send('x')],
  ['fresh', 'send to port 0', (s) => any(s).send('x', 0)],
  ['fresh', 'send to port -1', (s) => any(s).send('x', -1)],
  ['fresh', 'send to port 70000', (s) => any(s).send('x', 70000)],
  ['fresh', "send to port 'abc'", (s) => any(s).send('x', 'abc')],
  ['fresh', "send to port ' '", (s) => any(s).send('x', ' ', '127.0.0.1')],
  ['fresh', 'send to port 1.5', (s) => any(s).send('x', 1.5)],
  ['fresh', 'send to port null', (s) => any(s).send('x', null)],
  ['fresh', 'send to port true', (s) => any(s).send('x', true, '127.0.0.1')],
  ['fresh', 'send a number', (s) => any(s).send(5, 1234)],
  ['fresh', 'send null', (s) => any(s).send(null, 1234)],
  ['fresh', 'send undefined', (s) => any(s).send(undefined, 1234)],
  ['fresh', 'send an object', (s) => any(s).send({}, 1234)],
  ['fresh', 'send a list with a number', (s) => any(s).send([1], 1234)],
  ['fresh', 'send a list with a string and a number', (s) => any(s).send(['a', 5], 1234)],
  ['fresh', 'send offset past the end', (s) => any(s).send(Buffer.alloc(4), 5, 1, 1234, '127.0.0.1')],
  ['fresh', 'send length past the end', (s) => any(s).send(Buffer.alloc(4), 2, 3, 1234, '127.0.0.1')],
  ['fresh', 'send offset -1', (s) => any(s).send(Buffer.alloc(4), -1, 3, 1234, '127.0.0.1')],
  ['fresh', 'send with offset: not a view', (s) => any(s).send(7, 0, 1, 1234, '127.0.0.1')],
  ['fresh', 'send to address 5', (s) => any(s).send('x', 1234, 5)],
  ['fresh', 'send to address {}', (s) => any(s).send('x', 1234, {})],
  ['fresh', 'send to address true', (s) => any(s).send('x', 1234, true)],
  ['fresh', "send to port '41234'", (s) => any(s).send('x', '41234', '127.0.0.1')],
  ['fresh', 'send a Uint8Array', (s) => any(s).send(new Uint8Array(3), 41234, '127.0.0.1')],
  ['fresh', 'send a DataView', (s) => any(s).send(new DataView(new ArrayBuffer(5)), 41234, '127.0.0.1')],
  ['fresh', 'send a list', (s) => any(s).send(['ab', Buffer.from('cd')], 41234, '127.0.0.1')],
  ['fresh', 'connect to port 0', (s) => any(s).connect(0)],
  ['fresh', 'connect without a port', (s) => any(s).connect()],
  ['fresh', 'connect to port -5', (s) => any(s).connect(-5)],
  ['fresh', "connect to port 'x'", (s) => any(s).connect('x')],
  ['fresh', 'connect to address 5', (s) => any(s).connect(1234, 5)],
  ['fresh', 'address() before bind', (s) => s.address()],
  ['fresh', 'remoteAddress() before connect', (s) => s.remoteAddress()],
  ['fresh', 'setBroadcast before bind', (s) => s.setBroadcast(true)],
  ['fresh', 'setTTL before bind', (s) => s.setTTL(3)],
  ['fresh', "setTTL('a')", (s) => any(s).setTTL('a')],
  ['fresh', 'disconnect() before connect', (s) => s.disconnect()],
  ['fresh', 'bind to address 5', (s) => any(s).bind(0, 5)],
  ['bound', 'bind again', (s) => s.bind()],
  ['bound', 'setTTL(0)', (s) => s.setTTL(0)],
  ['bound', 'setTTL(256)', (s) => s.setTTL(256)],
  ['bound', 'setTTL(255)', (s) => s.setTTL(255)],
  ['bound', 'setTTL(1.5)', (s) => s.setTTL(1.5)],
  ['bound', 'setBroadcast(true)', (s) => s.setBroadcast(true)],
  ['bound', 'connect to port 0', (s) => any(s).connect(0, '127.0.0.1')],
  ['connected', 'send with offset, length and port', (s) => any(s).send(Buffer.alloc(4), 0, 2, 9)],
  ['connected', 'send with offset and length', (s) => any(s).send(Buffer.alloc(4), 0, 2)],
  ['connected', 'send with offset, length and callback', (s) => any(s).send(Buffer.alloc(4), 0, 2, () => {})],
  [
    'connected',
    'send with offset, length, null and an address',
    (s) => any(s).send(Buffer.alloc(4), 0, 2, null, '1.2.3.4'),
  ],
  ['connected', 'send with a port (taken as the callback)', (s) => any(s).send('x', 9)],
  ['connected', 'send a number', (s) => any(s).send(5)],
  ['connected', 'connect again', (s) => any(s).connect(9)],
  ['connected', 'remoteAddress()', (s) => s.remoteAddress()],
  ['connected', 'disconnect()', (s) => s.disconnect()],
  ['closed', 'send', (s) => any(s).send('x', 1234)],
  ['closed', 'bind', (s) => s.bind()],
  ['closed', 'address()', (s) => s.address()],
  ['closed', 'close()', (s) => s.close()],
];

const CREATE: [string, unknown][] = [
  ["'udp5'", 'udp5'],
  ["{ type: 'x' }", { type: 'x' }],
  ['nothing', undefined],
  ['null', null],
  ['recvBufferSize -1', { type: 'udp4', recvBufferSize: -1 }],
  ['recvBufferSize 1.5', { type: 'udp4', recvBufferSize: 1.5 }],
  ["recvBufferSize 'a'", { type: 'udp4', recvBufferSize: 'a' }],
  ['sendBufferSize 2**33', { type: 'udp4', sendBufferSize: 2 ** 33 }],
  ['lookup 5', { type: 'udp4', lookup: 5 }],
];

async function nodeSocket(state: State): Promise<dgram.Socket> {
  const s = dgram.createSocket('udp4');
  s.on('error', () => {});
  if (state === 'fresh') return s;
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  if (state === 'connected') await new Promise<void>((r) => s.connect(9, '127.0.0.1', () => r()));
  if (state === 'closed') s.close();
  return s;
}

async function oursSocket(r: ReturnType<typeof rig>, state: State): Promise<Socket> {
  const s = r.socket();
  s.on('error', () => {});
  if (state === 'fresh') return s;
  s.bind(0, '127.0.0.1');
  await once(s, 'listening');
  if (state === 'connected') await new Promise<void>((res) => s.connect(9, '127.0.0.1', () => res()));
  if (state === 'closed') s.close();
  return s;
}

function closeNode(s: dgram.Socket): void {
  try {
    s.close();
  } catch {
    // closed already
  }
}

test('argument and state errors: ours throw what node:dgram throws, case by case', async (t) => {
  const r = rig();
  try {
    for (const [state, name, op] of CASES) {
      const n = await nodeSocket(state);
      const o = await oursSocket(r, state);
      const expected = outcome(() => op(n));
      const actual = outcome(() => op(o));
      t.deepEqual(actual, expected, `${state}: ${name}`);
      closeNode(n);
      if (!o.isClosed) o.close();
    }
    for (const [name, arg] of CREATE) {
      const expected = outcome(() => dgram.createSocket(arg as 'udp4').close());
      const actual = outcome(() => new Socket(arg, undefined, r).close());
      t.deepEqual(actual, expected, `createSocket(${name})`);
    }
  } finally {
    await r.close();
  }
});

interface Report {
  readonly code?: unknown;
  readonly errno?: unknown;
  readonly syscall?: unknown;
  readonly message?: string;
  readonly address?: unknown;
  readonly port?: unknown;
  readonly bytes?: unknown;
}

const report = (e: (Error & Record<string, unknown>) | null, bytes?: number): Report =>
  e
    ? {
        code: e.code,
        errno: e.errno,
        syscall: e.syscall,
        message: e.message,
        address: e.address,
        port: e.port,
      }
    : { bytes };

test('errors by callback: EMSGSIZE past 65,507 bytes, a full-size datagram, EACCES to a broadcast address', async (t) => {
  const r = rig();
  const n = await nodeSocket('bound');
  const o = await oursSocket(r, 'bound');
  // Somewhere nobody listens, on loopback.
  const probe = dgram.createSocket('udp4');
  await new Promise<void>((res) => probe.bind(0, '127.0.0.1', () => res()));
  const port = probe.address().port;
  probe.close();
  const both = async (f: (s: AnySocket, cb: (e: any, n?: number) => void) => void) => {
    const a = await new Promise<Report>((res) => f(n, (e, b) => res(report(e, b))));
    const b = await new Promise<Report>((res) => f(o, (e, b2) => res(report(e, b2))));
    return [b, a] as const;
  };
  const [bigOurs, bigNode] = await both((s, cb) => any(s).send(Buffer.alloc(65508), port, '127.0.0.1', cb));
  t.deepEqual(bigOurs, bigNode);
  t.is(bigNode.code, 'EMSGSIZE');
  const [fullOurs, fullNode] = await both((s, cb) => any(s).send(Buffer.alloc(65507), port, '127.0.0.1', cb));
  t.deepEqual(fullOurs, fullNode);
  t.is(fullNode.bytes, 65507);
  const [v6Ours, v6Node] = await both((s, cb) => any(s).send('x', port, '::1', cb));
  t.deepEqual(v6Ours, v6Node);
  t.is(v6Node.code, 'EINVAL');
  const [listOurs, listNode] = await both((s, cb) =>
    any(s).send(['ab', Buffer.from('cde')], port, '127.0.0.1', cb),
  );
  t.deepEqual(listOurs, listNode);
  // Node's socket is bound to loopback, where the kernel may refuse a broadcast for
  // another reason than SO_BROADCAST; ours is compared with what Linux says on a real interface.
  const unbound = r.socket(); // bound by the send itself, to 0.0.0.0
  const bcOurs = await new Promise<Report>((res) =>
    unbound.send('x', port, '255.255.255.255', (e, b) => res(report(e as never, b))),
  );
  t.deepEqual(bcOurs, {
    code: 'EACCES',
    errno: -13,
    syscall: 'send',
    message: `send EACCES 255.255.255.255:${port}`,
    address: '255.255.255.255',
    port,
  });
  closeNode(n);
  o.close();
  await r.close();
});

test('bind errors arrive as error events: EADDRINUSE (two sockets, one port), EACCES (a port below 1024 without the grant), EADDRNOTAVAIL', async (t) => {
  const r = rig();
  const a = r.socket();
  a.bind(40000);
  await once(a, 'listening');
  const b = r.socket();
  b.bind(40000);
  const [e] = await once<[Error & Record<string, unknown>]>(b, 'error');
  t.like(e, {
    code: 'EADDRINUSE',
    errno: -98,
    syscall: 'bind',
    address: '0.0.0.0',
    port: 40000,
    message: 'bind EADDRINUSE 0.0.0.0:40000',
  });
  // What a real node:dgram socket says for a port taken on loopback, and ours for the same.
  const n1 = dgram.createSocket('udp4');
  await new Promise<void>((res) => n1.bind(0, '127.0.0.1', () => res()));
  const taken = n1.address().port;
  const n2 = dgram.createSocket('udp4');
  n2.bind(taken, '127.0.0.1');
  const [ne2] = await once<[Error & Record<string, unknown>]>(n2, 'error');
  const o1 = r.socket();
  o1.bind(taken, '127.0.0.1');
  await once(o1, 'listening');
  const o2 = r.socket();
  o2.bind(taken, '127.0.0.1');
  const [oe2] = await once<[Error & Record<string, unknown>]>(o2, 'error');
  const fields = (x: Record<string, unknown>) => ({
    code: x.code,
    errno: x.errno,
    syscall: x.syscall,
    address: x.address,
    port: x.port,
    message: x.message,
  });
  t.deepEqual(fields(oe2), fields(ne2));
  closeNode(n1);
  closeNode(n2);
  // A failed bind leaves the socket unbound: it may try again.
  b.bind(40001);
  await once(b, 'listening');
  t.is(b.address().port, 40001);
  const c = r.socket();
  c.bind(80);
  t.like((await once<[Error]>(c, 'error'))[0], {
    code: 'EACCES',
    errno: -13,
    message: 'bind EACCES 0.0.0.0:80',
  });
  const d = r.socket();
  d.bind(0, '10.9.9.9');
  t.like((await once<[Error]>(d, 'error'))[0], {
    code: 'EADDRNOTAVAIL',
    message: 'bind EADDRNOTAVAIL 10.9.9.9',
  });
  // node:dgram's real socket says the same for EADDRNOTAVAIL.
  const n = dgram.createSocket('udp4');
  n.bind(0, '10.9.9.9');
  const [ne] = await once<[Error & Record<string, unknown>]>(n, 'error');
  t.like(ne, { code: 'EADDRNOTAVAIL', message: 'bind EADDRNOTAVAIL 10.9.9.9' });
  closeNode(n);
  // The bind callback is a 'listening' listener, removed again on error.
  const f = r.socket();
  let called = 0;
  f.on('error', () => {});
  f.bind(40000, () => called++);
  await once(f, 'error');
  t.is(f.listenerCount('listening'), 0);
  t.is(called, 0);
  await r.close();
  t.deepEqual(r.ports.open.size, 0, 'every port went back');
});

test('names: localhost and IPv4 literals resolve; any other name is ENOTFOUND (no DNS here); a custom lookup is used', async (t) => {
  const r = rig();
  const s = r.socket();
  s.bind(0, 'localhost');
  await once(s, 'listening');
  t.is(s.address().address, '127.0.0.1');
  const e = await new Promise<Error & Record<string, unknown>>((res) =>
    s.send('x', 9, 'no.such.host', (err) => res(err as never)),
  );
  t.like(e, {
    code: 'ENOTFOUND',
    errno: -3008,
    syscall: 'getaddrinfo',
    hostname: 'no.such.host',
    message: 'getaddrinfo ENOTFOUND no.such.host',
  });
  const names: string[] = [];
  const l = r.socket({});
  const withLookup = new Socket(
    {
      type: 'udp4',
      lookup: (name: string, family: number, cb: (e: Error | null, a?: string, f?: number) => void) => {
        names.push(`${name}/${family}`);
        cb(null, '127.0.0.1', 4);
      },
    },
    undefined,
    r,
  );
  withLookup.bind(0, 'anything');
  await once(withLookup, 'listening');
  t.deepEqual(names, ['anything/4']);
  l.close();
  await r.close();
});

test('events: listening, connect, message, close in the order node:dgram gives them; send before bind waits for the bind', async (t) => {
  const r = rig();
  const events: string[] = [];
  const a = r.socket();
  const b = r.socket();
  for (const [name, s] of [
    ['a', a],
    ['b', b],
  ] as const)
    for (const ev of ['listening', 'connect', 'close']) s.on(ev, () => events.push(`${name}:${ev}`));
  b.bind(41000);
  await once(b, 'listening');
  const got = once<[Buffer, { port: number }]>(b, 'message');
  // Not bound yet: it binds itself (port 0 from netd) and the datagram waits for it.
  a.send('early', 41000, '127.0.0.1');
  const [msg, rinfo] = await got;
  t.is(msg.toString(), 'early');
  t.is(rinfo.port, a.address().port);
  a.connect(41000, '127.0.0.1');
  await once(a, 'connect');
  t.deepEqual(a.remoteAddress(), { address: '127.0.0.1', family: 'IPv4', port: 41000 });
  a.close();
  b.close();
  await once(b, 'close');
  t.deepEqual(events, ['b:listening', 'a:listening', 'a:connect', 'a:close', 'b:close']);
  await r.close();
  t.true(r.ports.calls.includes('close_port udp 41000'));
});

test('zeroCopy: the message is a view of the receive memory, valid during the handler; by default a copy the handler may keep', async (t) => {
  const r = rig();
  const copy = r.socket();
  const view = r.socket({ zeroCopy: true });
  copy.bind(42000);
  view.bind(42001);
  await Promise.all([once(copy, 'listening'), once(view, 'listening')]);
  const seen: { msg: Buffer; text: string }[] = [];
  const record = (m: Buffer) => seen.push({ msg: m, text: m.toString() });
  copy.on('message', record);
  view.on('message', record);
  const frame = (port: number) =>
    udpFrame({
      dstMac: US_MAC,
      srcMac: PEER_MAC,
      src: PEER,
      dst: US,
      srcPort: 9,
      dstPort: port,
      payload: Buffer.from('first'),
    });
  const rx = new Uint8Array(2048); // the link's receive memory, reused frame after frame
  for (const port of [42000, 42001]) {
    rx.set(frame(port));
    r.link.deliverView(rx, frame(port).length);
  }
  rx.fill(0);
  t.deepEqual(
    seen.map((s) => s.text),
    ['first', 'first'],
  );
  t.is(seen[0]!.msg.toString(), 'first', 'the copy outlives the frame');
  t.is(seen[1]!.msg.buffer, rx.buffer, 'the view is the receive memory itself');
  t.not(seen[1]!.msg.toString(), 'first', 'and changes with it once the handler has returned');
  await r.close();
});

test('close() while a bind is pending waits for it; when the bind fails, the socket still closes (Node would forget the close)', async (t) => {
  const r = rig();
  const a = r.socket();
  a.bind(43000);
  await once(a, 'listening');
  const b = r.socket();
  const errors: string[] = [];
  b.on('error', (e: Error & { code?: string }) => errors.push(e.code!));
  b.bind(43000);
  b.send('queued', 9, '127.0.0.1'); // waits for the bind
  b.close();
  await once(b, 'close');
  t.deepEqual(errors, ['EADDRINUSE']);
  t.true(b.isClosed);
  t.throws(() => b.send('x', 9), { code: 'ERR_SOCKET_DGRAM_NOT_RUNNING' });
  await r.close();
  t.is(r.ports.open.size, 0);
});

test('createSocket({ type, stack }) is the same socket as net.dgram.createSocket; without a stack it is refused', async (t) => {
  const r = rig();
  const s = createSocket({ type: 'udp4', stack: r });
  s.bind(44000);
  await once(s, 'listening');
  t.deepEqual(s.address(), { address: '0.0.0.0', family: 'IPv4', port: 44000 });
  t.true(r.sockets.has(s));
  t.throws(() => createSocket('udp4'), {
    code: 'ERR_INVALID_ARG_TYPE',
    message: /"options\.stack" property/,
  });
  t.throws(() => createSocket({ type: 'udp6', stack: r }), {
    code: 'ERR_SOCKET_BAD_TYPE',
    message: /no IPv6/,
  });
  t.throws(() => createSocket({ type: 'udp4', stack: r, reuseAddr: true }), { code: 'EOPNOTSUPP' });
  await r.close();
  t.true(s.isClosed);
});
