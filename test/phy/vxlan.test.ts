// VXLAN: the header, the port on loopback (both ways, malformed datagrams counted,
// the send pool never reused early, options), and a round trip with another process.
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { mac } from '../../lib/net/index.ts';
import {
  checkVxlan,
  readVni,
  VXLAN_FLAG_I,
  VxlanPort,
  type VxlanStats,
  writeVxlanHeader,
} from '../../lib/phy/index.ts';
import { FishnetError } from '../../protocols/errors.ts';
import { collect, frameId, idFrame } from './helpers.ts';

const A = mac('02:00:00:00:00:0a');
const B = mac('02:00:00:00:00:0b');
const root = fileURLToPath(new URL('../..', import.meta.url));

/** Wait until `cond` holds (polling); fail with `what` after `ms`. */
async function until(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** Two ports on 127.0.0.1, each the other's remote. */
async function pair(vni = 42, more: { sendBuffers?: number; maxFrame?: number } = {}) {
  const a = await VxlanPort.open({
    vni,
    remoteAddress: '127.0.0.1',
    localAddress: '127.0.0.1',
    localPort: 0,
    ...more,
  });
  const b = await VxlanPort.open({
    vni,
    remoteAddress: '127.0.0.1',
    remotePort: a.localPort,
    localAddress: '127.0.0.1',
    localPort: 0,
    ...more,
  });
  a.setRemote('127.0.0.1', b.localPort);
  return { a, b, close: () => Promise.all([a.close(), b.close()]) };
}

test('the header: I flag, 24-bit VNI, reserved bits zero when sent and ignored when received', (t) => {
  const h = new Uint8Array(8).fill(0xaa);
  t.is(writeVxlanHeader(h, 0, 0x123456), 8);
  t.deepEqual([...h], [0x08, 0, 0, 0, 0x12, 0x34, 0x56, 0]);
  t.is(readVni(h), 0x123456);
  const d = new Uint8Array(8 + 60);
  writeVxlanHeader(d, 0, 7);
  t.is(checkVxlan(d, 7, 14, 1518), undefined);
  t.is(checkVxlan(d, 8, 14, 1518), 'wrong-vni');
  t.is(checkVxlan(d.subarray(0, 7), 7, 14, 1518), 'bad-header');
  t.is(checkVxlan(d.subarray(0, 8 + 13), 7, 14, 1518), 'bad-length');
  t.is(checkVxlan(d.subarray(0, 8 + 14), 7, 14, 1518), undefined);
  t.is(checkVxlan(d, 7, 14, 59), 'bad-length');
  const noI = d.slice();
  noI[0] = 0;
  t.is(checkVxlan(noI, 7, 14, 1518), 'bad-header');
  const reserved = d.slice();
  reserved[0] = 0xff; // I plus every reserved flag
  reserved[1] = reserved[2] = reserved[3] = reserved[7] = 0xff;
  t.is(checkVxlan(reserved, 7, 14, 1518), undefined);
  t.is(VXLAN_FLAG_I, 0x08);
});

test('frames cross a loopback tunnel both ways, byte for byte, in VXLAN datagrams of the right VNI', async (t) => {
  const { a, b, close } = await pair(0xabcdef);
  // Watch the wire: a plain UDP socket stands in for b once, to see a's datagram as sent.
  const atA = collect(a);
  const atB = collect(b);
  const sizes = [14, 60, 61, 512, 1514, 1518];
  for (const [i, n] of sizes.entries()) t.true(a.send(idFrame(B, A, i, Math.max(n, 18)).subarray(0, n)));
  for (const [i, n] of sizes.entries()) t.true(b.send(idFrame(A, B, 100 + i, Math.max(n, 18))));
  await until(() => atB.length === sizes.length && atA.length === sizes.length, 'frames');
  t.deepEqual(
    atB.map((f) => f.length),
    sizes,
  );
  t.deepEqual(atB[3], idFrame(B, A, 3, 512));
  t.deepEqual(atA.map(frameId), [100, 101, 102, 103, 104, 105]);
  const bytes = sizes.reduce((s, n) => s + n, 0);
  t.like(a.stats, { txFrames: 6, txBytes: bytes, rxFrames: 6 });
  t.like(b.stats, { rxFrames: 6, rxBytes: bytes });
  t.is(a.stats.dropped.malformed + b.stats.dropped.malformed, 0);

  // The datagram itself: the header, then the frame.
  const spy = createSocket('udp4');
  await new Promise<void>((r) => spy.bind(0, '127.0.0.1', r));
  a.setRemote('127.0.0.1', spy.address().port);
  const [dgram] = (await Promise.all([once(spy, 'message'), a.send(idFrame(B, A, 9))]))[0] as [Buffer];
  t.deepEqual([...dgram.subarray(0, 8)], [0x08, 0, 0, 0, 0xab, 0xcd, 0xef, 0]);
  t.deepEqual(new Uint8Array(dgram.subarray(8)), idFrame(B, A, 9));
  spy.close();
  await close();
});

async function raw(address: string): Promise<Socket> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, address, r));
  return s;
}

test('malformed datagrams are dropped and counted by cause; reserved bits are ignored', async (t) => {
  const port = await VxlanPort.open({
    vni: 5,
    remoteAddress: '127.0.0.1',
    localAddress: '127.0.0.1',
    localPort: 0,
  });
  const got = collect(port);
  const good = await raw('127.0.0.1');
  const stranger = await raw('127.0.0.2');
  const dgram = (vni: number, frameLen: number, flags = VXLAN_FLAG_I) => {
    const d = new Uint8Array(8 + frameLen);
    writeVxlanHeader(d, 0, vni);
    d[0] = flags;
    d.set(idFrame(B, A, frameLen, Math.max(frameLen, 18)).subarray(0, frameLen), 8);
    return d;
  };
  const to = (s: Socket, d: Uint8Array) =>
    new Promise<void>((r) => s.send(d, port.localPort, '127.0.0.1', () => r()));
  await to(good, new Uint8Array(3)); // shorter than the header
  await to(good, dgram(5, 60, 0)); // I flag clear
  await to(good, dgram(6, 60)); // another segment
  await to(good, dgram(5, 13)); // inner frame shorter than an Ethernet header
  await to(good, dgram(5, 1519)); // longer than the port carries
  await to(stranger, dgram(5, 60)); // not from the remote end point
  await to(good, dgram(5, 60, 0xff)); // reserved flags set: still ours
  await to(good, dgram(5, 64));
  await until(() => got.length === 2, 'the two good frames');
  await until(() => port.stats.dropped.malformed === 6, 'six refusals');
  const s: VxlanStats = port.stats;
  t.deepEqual(s.refused, {
    'bad-header': 2,
    'wrong-vni': 1,
    'bad-length': 2,
    'wrong-source': 1,
    'send-error': 0,
  });
  t.deepEqual(
    got.map((f) => f.length),
    [60, 64],
  );
  t.like(s, { rxFrames: 2, rxBytes: 124 });
  port.setReceiver(undefined);
  await to(good, dgram(5, 60));
  await until(() => port.stats.dropped.closed === 1, 'a frame with no receiver counted');
  good.close();
  stranger.close();
  await port.close();
});

test('send: lengths checked, a bounded pool of buffers none of which is reused before dgram is done', async (t) => {
  const { a, b, close } = await pair(9, { sendBuffers: 3 });
  const atB = collect(b);
  t.false(a.send(new Uint8Array(13)));
  t.false(a.send(new Uint8Array(1519)));
  t.is(a.stats.dropped['bad-length'], 2);
  // A burst in one turn: dgram holds each buffer until its callback, so only three go.
  const sent = [1, 2, 3, 4, 5].map((i) => a.send(idFrame(B, A, i)));
  t.deepEqual(sent, [true, true, true, false, false]);
  t.is(a.stats.dropped['queue-full'], 2);
  t.is(a.inFlight, 3);
  await until(() => atB.length === 3, 'the burst');
  // Each arrived intact: no buffer was overwritten while dgram still had it.
  t.deepEqual(
    atB,
    [1, 2, 3].map((i) => idFrame(B, A, i)),
  );
  await until(() => a.inFlight === 0, 'the callbacks');
  t.true(a.send(idFrame(B, A, 6)));
  await until(() => atB.length === 4, 'a frame after the pool refilled');
  t.is(frameId(atB[3]!), 6);
  await close();
  t.false(a.send(idFrame(B, A, 7)));
  t.is(a.stats.dropped.closed, 1);
  await a.close(); // idempotent
});

test('a port on another VNI hears nothing; stats say why', async (t) => {
  const a = await VxlanPort.open({
    vni: 1,
    remoteAddress: '127.0.0.1',
    localAddress: '127.0.0.1',
    localPort: 0,
  });
  const b = await VxlanPort.open({
    vni: 2,
    remoteAddress: '127.0.0.1',
    remotePort: a.localPort,
    localAddress: '127.0.0.1',
    localPort: 0,
  });
  a.setRemote('127.0.0.1', b.localPort);
  const got = collect(b);
  a.send(idFrame(B, A, 1));
  await until(() => b.stats.refused['wrong-vni'] === 1, 'the refusal');
  t.is(got.length, 0);
  await Promise.all([a.close(), b.close()]);
});

// Serial: it counts the process's open sockets, so no other test may hold one.
test.serial(
  'options are checked with errors naming the option; a failed bind is LINK_ERR_SOCKET',
  async (t) => {
    const open = (o: object) => VxlanPort.open({ vni: 1, remoteAddress: '10.0.0.1', ...o } as never);
    await t.throwsAsync(() => VxlanPort.open(undefined as never), {
      instanceOf: TypeError,
      message: /required/,
    });
    await t.throwsAsync(() => open({ vni: 2 ** 24 }), { instanceOf: RangeError, message: /'vni'.*16777216/ });
    await t.throwsAsync(() => open({ vni: -1 }), { instanceOf: RangeError, message: /'vni'/ });
    await t.throwsAsync(() => open({ vni: '1' }), { instanceOf: TypeError, message: /'vni'.*"1"/ });
    await t.throwsAsync(() => open({ remoteAddress: '10.0.0' }), {
      instanceOf: TypeError,
      message: /'remoteAddress'.*IPv4.*"10\.0\.0"/,
    });
    await t.throwsAsync(() => open({ remoteAddress: 'example.com' }), { instanceOf: TypeError });
    await t.throwsAsync(() => open({ remoteAddress: '239.1.1.1' }), {
      instanceOf: RangeError,
      message: /unicast/,
    });
    await t.throwsAsync(() => open({ remoteAddress: '0.0.0.0' }), {
      instanceOf: RangeError,
      message: /unicast/,
    });
    await t.throwsAsync(() => open({ remotePort: 0 }), { instanceOf: RangeError, message: /'remotePort'/ });
    await t.throwsAsync(() => open({ localPort: 70000 }), {
      instanceOf: RangeError,
      message: /'localPort'.*70000/,
    });
    await t.throwsAsync(() => open({ maxFrame: 10 }), { instanceOf: RangeError, message: /'maxFrame'/ });
    await t.throwsAsync(() => open({ sendBuffers: 0 }), { instanceOf: RangeError, message: /'sendBuffers'/ });
    await t.throwsAsync(() => open({ socketBufferBytes: 10 }), {
      instanceOf: RangeError,
      message: /'socketBufferBytes'.*10/,
    });
    await t.throwsAsync(() => open({ remote: '1.2.3.4' }), {
      instanceOf: TypeError,
      message: /unknown option 'remote'/,
    });
    const a = await VxlanPort.open({
      vni: 1,
      remoteAddress: '127.0.0.1',
      localAddress: '127.0.0.1',
      localPort: 0,
      socketBufferBytes: 1 << 18,
    });
    t.is(a.name, 'vxlan1');
    t.is(a.localAddress, '127.0.0.1');
    const e = await t.throwsAsync(
      () =>
        VxlanPort.open({
          vni: 1,
          remoteAddress: '127.0.0.1',
          localAddress: '127.0.0.1',
          localPort: a.localPort,
        }),
      { instanceOf: FishnetError },
    );
    t.is(e?.errName, 'LINK_ERR_SOCKET');
    t.regex(e?.message ?? '', /127\.0\.0\.1:\d+: EADDRINUSE/);
    t.throws(() => a.setRemote('224.0.0.1'), { instanceOf: RangeError, message: /setRemote/ });
    t.throws(() => a.setRemote('127.0.0.1', 0), { instanceOf: RangeError, message: /'port'/ });
    await a.close();
    const sockets = () => process.getActiveResourcesInfo().filter((r) => r === 'UDPWrap').length;
    await until(() => sockets() === 0, 'every socket closed, the one that failed to bind included');
  },
);

test('a frame round trip between two processes over VXLAN on loopback', async (t) => {
  const VNI = 4242;
  const port = await VxlanPort.open({
    vni: VNI,
    remoteAddress: '127.0.0.1',
    localAddress: '127.0.0.1',
    localPort: 0,
  });
  const child: ChildProcessWithoutNullStreams = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      fileURLToPath(new URL('./fixtures/vxlan-echo.ts', import.meta.url)),
      String(VNI),
      String(port.localPort),
    ],
    { cwd: root, stdio: 'pipe' },
  );
  const exited = once(child, 'exit'); // listened for at once: it may exit before its last line is read
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const first = await lines.next();
  t.false(first.done, `the echo process said nothing: ${stderr}`);
  const childPort = (JSON.parse(first.value as string) as { port: number }).port;
  port.setRemote('127.0.0.1', childPort);

  const back = collect(port);
  const N = 200;
  const sent: Uint8Array[] = [];
  // In rounds of 20, so that no socket buffer overflows on a loaded machine.
  for (let i = 0; i < N; i++) {
    const f = idFrame(B, A, i, 60 + ((i * 37) % 1458));
    sent.push(f);
    t.true(port.send(f));
    if (i % 20 === 19) await until(() => back.length === i + 1, `echo of frame ${i}`, 10_000);
  }
  for (const [i, f] of back.entries()) {
    const want = sent[i]!.slice();
    want.set(sent[i]!.subarray(6, 12), 0);
    want.set(sent[i]!.subarray(0, 6), 6);
    t.deepEqual(f, want, `frame ${i}`);
  }
  child.stdin.end();
  const last = await lines.next();
  const [code] = await exited;
  t.is(code, 0, stderr);
  const childStats = (JSON.parse(last.value as string) as { stats: VxlanStats }).stats;
  t.like(childStats, { rxFrames: N, txFrames: N });
  t.is(childStats.dropped.malformed, 0);
  t.like(port.stats, { txFrames: N, rxFrames: N });
  await port.close();
});
