// The e1000n driver, end to end: frames come from the wire (a tap on the switch),
// through the emulated NIC and the driver, into the pbufs of the client whose
// filter claims them; what clients send goes through the transmit filters and out.
import test from 'ava';
import { arpFilter, arpTransmitFilter } from '../../lib/bfdmux/index.ts';
import { fragmentIpv4 } from '../../lib/lwip/ipv4-fragment.ts';
import { arpFrame, BROADCAST_MAC, type Mac, udpFrame } from '../../lib/net/index.ts';
import { Err } from '../../protocols/errors.ts';
import { MACHINE_IP, PEER_IP, PEER_MAC, withMachine } from '../helpers/machine.ts';
import { eventually } from '../helpers/runtime.ts';

const udp = (dstMac: number, dstPort: number, tag: number, src = PEER_IP) =>
  udpFrame({
    dstMac: dstMac as Mac,
    srcMac: PEER_MAC,
    src,
    dst: MACHINE_IP,
    srcPort: 5000,
    dstPort,
    payload: new Uint8Array(32).fill(tag),
  });

test('two clients each receive only their own frames; what no filter claims goes to the default buffer', (t) =>
  withMachine(t, async (r) => {
    const a = await r.client();
    const b = await r.client();
    await r.open(a, 7000);
    await r.open(b, 8000);
    const frames = [];
    for (let i = 0; i < 60; i++) frames.push(udp(r.m.mac, i % 3 === 0 ? 7000 : i % 3 === 1 ? 8000 : 9000, i));
    for (const f of frames) r.wire.send(f);
    t.true(
      await eventually(
        async () => (await a.api.received()).count === 20 && (await b.api.received()).count === 20,
      ),
    );
    const got = async (c: typeof a) => (await c.api.received()).frames.map((f) => f[f.length - 1]);
    t.deepEqual(
      await got(a),
      frames.map((_, i) => i).filter((i) => i % 3 === 0),
    );
    t.deepEqual(
      await got(b),
      frames.map((_, i) => i).filter((i) => i % 3 === 1),
    );
    t.true(await eventually(async () => (await r.netd.api.received()).length === 20));
    const stats = await r.netd.api.statistics();
    t.is(stats.rx_frames, 60);
    t.is(stats.rx_unclaimed, 20);
  }));

test('ARP is copied to every client and to the default buffer', (t) =>
  withMachine(t, async (r) => {
    await r.netd.api.registerArp(arpFilter(), arpTransmitFilter(r.m.mac));
    const a = await r.client();
    const b = await r.client();
    const arp = arpFrame({
      dstMac: BROADCAST_MAC,
      srcMac: PEER_MAC,
      op: 1,
      senderMac: PEER_MAC,
      senderIp: PEER_IP,
      targetMac: 0 as Mac,
      targetIp: MACHINE_IP,
    });
    r.wire.send(arp);
    t.true(
      await eventually(
        async () => (await a.api.received()).count === 1 && (await b.api.received()).count === 1,
      ),
    );
    t.true(await eventually(async () => (await r.netd.api.received()).length === 1));
    t.deepEqual((await a.api.received()).frames[0], Array.from(arp));
  }));

test('a client sends through its transmit filter; a frame the filter refuses never reaches the wire', (t) =>
  withMachine(t, async (r) => {
    const a = await r.client();
    await r.open(a, 7000);
    // From the machine's MAC, IP and port 7000: accepted.
    const good = udpFrame({
      dstMac: PEER_MAC,
      srcMac: r.m.mac,
      src: MACHINE_IP,
      dst: PEER_IP,
      srcPort: 7000,
      dstPort: 5000,
      payload: new Uint8Array(100).fill(1),
    });
    t.deepEqual(await a.api.send(Array.from(good)), [Err.OK]);
    t.true(await r.wireCount(1));
    t.deepEqual(Array.from(r.onWire[0]!), Array.from(good));
    // In three pbufs: the header from the driver's private copy, the rest from the client.
    t.deepEqual(await a.api.send(Array.from(good), 3, 4096), [Err.OK, Err.OK, Err.OK]);
    t.true(await r.wireCount(2));
    t.deepEqual(Array.from(r.onWire[1]!), Array.from(good));
    // Spoofed: another source port, another IP, another MAC.
    const spoofs = [
      udpFrame({
        dstMac: PEER_MAC,
        srcMac: r.m.mac,
        src: MACHINE_IP,
        dst: PEER_IP,
        srcPort: 7001,
        dstPort: 5000,
      }),
      udpFrame({
        dstMac: PEER_MAC,
        srcMac: r.m.mac,
        src: PEER_IP,
        dst: PEER_IP,
        srcPort: 7000,
        dstPort: 5000,
      }),
      udpFrame({
        dstMac: PEER_MAC,
        srcMac: PEER_MAC,
        src: MACHINE_IP,
        dst: PEER_IP,
        srcPort: 7000,
        dstPort: 5000,
      }),
    ];
    for (const s of spoofs) t.deepEqual(await a.api.send(Array.from(s)), [Err.ETHSRV_ERR_TX_REFUSED]);
    await new Promise((res) => setTimeout(res, 100));
    t.is(r.onWire.length, 2, 'nothing forged reached the wire');
    const st = await a.api.statistics();
    t.is(st.tx_frames, 2);
    t.is(st.tx_refused, 3);
    // The filter that let them out counted them, frames and bytes; the refused ones count nowhere.
    const filters = (await r.m.driver.api.statistics()).filters as { txFrames: number; txBytes: number }[];
    t.like(filters[0], { txFrames: 2, txBytes: 2 * good.length });
  }));

test('bad pbufs: outside the buffer, in another client buffer, too short, the wrong role: refused, nothing read or written', (t) =>
  withMachine(t, async (r) => {
    const a = await r.client();
    const b = await r.client();
    await r.open(a, 7000);
    const ia = await a.api.ids();
    const ib = await b.api.ids();
    // register_pbuf: outside a's RX buffer, in b's RX buffer, shorter than a frame, in a's TX buffer.
    await a.api.registerPbuf(ia.rx, 900, 2048 * 64 - 100, 2048);
    await a.api.registerPbuf(ib.rx, 901, 0, 2048);
    await a.api.registerPbuf(ia.rx, 902, 0, 100);
    await a.api.registerPbuf(ia.tx, 903, 0, 2048);
    t.true(await eventually(async () => (await a.api.refused()).length === 4));
    t.deepEqual(await a.api.refused(), [
      [900, Err.E1000_ERR_BAD_PBUF],
      [901, Err.E1000_ERR_BUFFER_NOT_FOUND],
      [902, Err.E1000_ERR_BAD_PBUF],
      [903, Err.E1000_ERR_BUFFER_NOT_FOUND],
    ]);
    // transmit_packet: outside the TX buffer, b's TX buffer, a zero length, nr_pbufs 0, a frame
    // whose pbufs name two buffers: each gets its tx_done with E1000_ERR_BAD_PBUF.
    const codes = await a.api.raw([
      [ia.tx, 1, 2048 * 64 - 10, 60, 1],
      [ib.tx, 2, 0, 60, 1],
      [ia.tx, 3, 0, 0, 1],
      [ia.tx, 4, 0, 60, 0],
      [ia.tx, 5, 0, 30, 2],
      [ia.rx, 6, 0, 30, 2],
    ]);
    t.deepEqual(codes, Array(6).fill(Err.E1000_ERR_BAD_PBUF));
    await new Promise((res) => setTimeout(res, 50));
    t.is(r.onWire.length, 0, 'nothing went out');
  }));

test('a client that never returns its pbufs loses its own frames and stalls nobody else', (t) =>
  withMachine(t, async (r) => {
    const greedy = await r.client({ pbufs: 4, hold: true });
    // Enough pbufs for a burst: what it might lose would be its own doing, not the greedy one's.
    const good = await r.client({ pbufs: 512 });
    await r.open(greedy, 7000);
    await r.open(good, 8000);
    for (let i = 0; i < 200; i++) {
      r.wire.send(udp(r.m.mac, 7000, i));
      r.wire.send(udp(r.m.mac, 8000, i));
      if (i % 25 === 24) await new Promise((res) => setTimeout(res, 5));
    }
    t.true(await eventually(async () => (await good.api.received()).count === 200));
    t.is((await greedy.api.received()).count, 4);
    const s = await greedy.api.statistics();
    t.is(s.rx_dropped, 196, 'each frame it could not take is counted, for it');
    t.is((await good.api.statistics()).rx_dropped, 0);
  }));

test('a client that rewrites its header from another thread after transmit_packet cannot get a forged frame out', (t) =>
  withMachine(t, async (r) => {
    const a = await r.client();
    await r.open(a, 7000);
    const good = udpFrame({
      dstMac: PEER_MAC,
      srcMac: r.m.mac,
      src: MACHINE_IP,
      dst: PEER_IP,
      srcPort: 7000,
      dstPort: 5000,
      payload: new Uint8Array(1200).fill(7),
    });
    // A thread flips the source port (bytes 34-35) between 7000 and 6666 as fast as it can.
    await a.api.flip(34, [0x1a, 0x0a]);
    // Send until some copies have caught the forged port (however this machine schedules the thread).
    let sent = 0;
    let refused = 0;
    for (let i = 0; i < 3000 && (refused < 5 || sent < 50); i++) {
      const [code] = await a.api.send(Array.from(good));
      if (code === Err.OK) sent++;
      else if (code === Err.ETHSRV_ERR_TX_REFUSED) refused++;
    }
    await a.api.stopFlip();
    t.true(await r.wireCount(sent));
    await new Promise((res) => setTimeout(res, 100));
    const ports = r.onWire.map((f) => (f[34]! << 8) | f[35]!);
    t.is(r.onWire.length, sent);
    t.true(
      ports.every((p) => p === 7000),
      `ports on the wire: ${[...new Set(ports)].join(', ')}`,
    );
    t.true(
      sent > 0 && sent < 300,
      `accepted ${sent} of 300: some copies caught the forged port, and were refused`,
    );
  }));

test("a client's death frees its buffers, pbufs and filters at once; the others keep their traffic", (t) =>
  withMachine(t, async (r) => {
    const a = await r.client();
    const b = await r.client();
    const fa = await r.open(a, 7000);
    await r.open(b, 8000);
    const driver = () =>
      r.m.driver.api.statistics() as Promise<{ clients: { actor: number }[]; filters: { id: number }[] }>;
    t.is((await driver()).filters.length, 2);
    await a.kill();
    t.true(await eventually(async () => (await driver()).clients.every((c) => c.actor !== a.id)));
    const s = await driver();
    t.deepEqual(
      s.filters.map((f) => f.id).filter((id) => id === fa),
      [],
      "the dead client's filter is gone",
    );
    t.is(s.filters.length, 1);
    // Frames for the dead client's port now go to the default buffer; b's still reach b.
    r.wire.send(udp(r.m.mac, 7000, 1));
    r.wire.send(udp(r.m.mac, 8000, 2));
    t.true(await eventually(async () => (await b.api.received()).count === 1));
    t.true(await eventually(async () => (await r.netd.api.received()).length === 1));
  }));

test('ether_netd: filters must verify and bind one client, the default buffer must be netd own', (t) =>
  withMachine(t, async (r) => {
    const a = await r.client();
    const b = await r.client();
    const ia = await a.api.ids();
    const ib = await b.api.ids();
    const fail = (p: Promise<unknown>) =>
      p.then(
        () => 'ok',
        (e) => e.errName as string,
      );
    t.is(
      await fail(r.netd.api.registerFilter(ia.rx, ib.tx, 'int8[0] == 1', 'int8[0] == 1')),
      'E1000_ERR_NOT_OWNER',
    );
    t.is(
      await fail(r.netd.api.registerFilter(ia.tx, ia.tx, 'int8[0] == 1', 'int8[0] == 1')),
      'FILTER_ERR_BUFF_NOT_FOUND',
    );
    t.is(
      await fail(
        r.netd.api.registerRawFilter(ia.rx, ia.tx, new Uint8Array([0x99]), new Uint8Array([0x61, 1])),
      ),
      'FILTER_ERR_BAD_CODE',
    );
    t.is(await fail(r.netd.api.setDefault(ia.rx)), 'E1000_ERR_NOT_OWNER');
    t.is(await fail(r.netd.api.deregisterFilter(4242)), 'FILTER_ERR_FILTER_NOT_FOUND');
    t.is(await r.netd.api.owner(ia.rx), a.id);
    t.is(await fail(r.netd.api.owner(99999)), 'E1000_ERR_BUFFER_NOT_FOUND');
    t.is(await r.netd.api.mac(), r.m.mac);
  }));

test('IP fragments through the driver: the first fragment decides, early ones wait, both flows sharing an id arrive', (t) =>
  withMachine(t, async (r) => {
    const a = await r.client();
    const b = await r.client();
    await r.open(a, 7000);
    await r.open(b, 8000);
    const frag = (dstPort: number, src: number, id: number) => {
      const whole = udpFrame({
        dstMac: r.m.mac as Mac,
        srcMac: PEER_MAC,
        src: src as never,
        dst: MACHINE_IP,
        srcPort: 5000,
        dstPort,
        id,
        payload: new Uint8Array(3000).fill(dstPort & 0xff),
      });
      const f = fragmentIpv4(whole.subarray(14), 1000);
      if (!f.ok) throw new Error(f.error);
      return f.fragments.map((ip) => new Uint8Array([...whole.subarray(0, 14), ...ip]));
    };
    const fa = frag(7000, PEER_IP, 42);
    const fb = frag(8000, PEER_IP + 1, 42);
    // b's later fragments before its first, interleaved with a's.
    for (const f of [fb[2]!, fa[0]!, fb[1]!, fa[1]!, fa[2]!, fa[3]!, fb[0]!, fb[3]!]) r.wire.send(f);
    t.true(await eventually(async () => (await a.api.received()).count === fa.length));
    t.true(await eventually(async () => (await b.api.received()).count === fb.length));
    const s = (await r.m.driver.api.statistics()) as { fragments: { delivered: number; held: number } };
    t.is(s.fragments.delivered, fa.length + fb.length);
    t.is(s.fragments.held, 2);
  }));

test("a client sends a fragmented datagram: later fragments follow their first; none without it, none into another client's datagram", (t) =>
  withMachine(t, async (r) => {
    const a = await r.client();
    const b = await r.client();
    await r.open(a, 7000);
    await r.open(b, 8000);
    const frags = (srcPort: number, id: number, srcMac = r.m.mac) => {
      const whole = udpFrame({
        dstMac: PEER_MAC,
        srcMac: srcMac as Mac,
        src: MACHINE_IP,
        dst: PEER_IP,
        srcPort,
        dstPort: 5000,
        id,
        payload: new Uint8Array(3000).fill(srcPort & 0xff),
      });
      const f = fragmentIpv4(whole.subarray(14), 1000);
      if (!f.ok) throw new Error(f.error);
      return f.fragments.map((ip) => Array.from([...whole.subarray(0, 14), ...ip]));
    };
    const fa = frags(7000, 7);
    const sent = async (c: typeof a, list: number[][]) => {
      const codes: number[] = [];
      for (const f of list) codes.push(...(await c.api.send(f)));
      return codes;
    };
    // a's whole datagram goes out.
    t.deepEqual(
      await sent(a, fa),
      fa.map(() => Err.OK),
    );
    t.true(await r.wireCount(fa.length));
    // Later fragments with no first: refused.
    const orphan = frags(7000, 8);
    t.deepEqual(
      await sent(a, orphan.slice(1)),
      orphan.slice(1).map(() => Err.ETHSRV_ERR_TX_REFUSED),
    );
    // b tries to inject fragments into a's datagram (same source, destination, protocol and id).
    const fa2 = frags(7000, 9);
    t.deepEqual(await sent(a, [fa2[0]!]), [Err.OK]);
    const forged = frags(8000, 9);
    t.deepEqual(
      await sent(b, forged.slice(1)),
      forged.slice(1).map(() => Err.ETHSRV_ERR_TX_REFUSED),
    );
    // ... nor can it open the same key with a first fragment of its own while a's is open.
    t.deepEqual(await sent(b, [forged[0]!]), [Err.ETHSRV_ERR_TX_REFUSED]);
    // A later fragment of a's own datagram with another source MAC: refused.
    const otherMac = frags(7000, 9, PEER_MAC);
    t.deepEqual(await sent(a, [otherMac[1]!]), [Err.ETHSRV_ERR_TX_REFUSED]);
    t.deepEqual(
      await sent(a, fa2.slice(1)),
      fa2.slice(1).map(() => Err.OK),
    );
    t.true(await r.wireCount(fa.length + fa2.length));
    await new Promise((res) => setTimeout(res, 50));
    t.is(r.onWire.length, fa.length + fa2.length, 'nothing forged reached the wire');
    const s = (await r.m.driver.api.statistics()) as {
      tx: { fragments: { opened: number; followed: number; open: number; refused: Record<string, number> } };
    };
    t.is(s.tx.fragments.opened, 2);
    t.is(s.tx.fragments.followed, fa.length - 1 + fa2.length - 1);
    t.is(s.tx.fragments.open, 0, 'the last fragments closed their keys');
    t.deepEqual(s.tx.fragments.refused, {
      noFirst: orphan.length - 1 + forged.length - 1,
      clash: 1,
      macChanged: 1,
      memory: 0,
      ownerLimit: 0,
    });
  }));

test('one client cannot fill the fragment table for the others: 64 open datagrams each', (t) =>
  withMachine(t, async (r) => {
    const a = await r.client();
    const b = await r.client();
    await r.open(a, 7000);
    await r.open(b, 8000);
    const first = (srcPort: number, id: number) =>
      Array.from(
        udpFrame({
          dstMac: PEER_MAC,
          srcMac: r.m.mac as Mac,
          src: MACHINE_IP,
          dst: PEER_IP,
          srcPort,
          dstPort: 5000,
          id,
          moreFragments: true,
          payload: new Uint8Array(24),
        }),
      );
    const codes: number[] = [];
    for (let id = 0; id < 80; id++) codes.push(...(await a.api.send(first(7000, id))));
    t.is(codes.filter((c) => c === Err.OK).length, 64);
    t.is(codes.filter((c) => c === Err.ETHSRV_ERR_TX_REFUSED).length, 16);
    // b's datagram goes: a's keys are a's alone to spend.
    t.deepEqual(await b.api.send(first(8000, 5000)), [Err.OK]);
    const s = (await r.m.driver.api.statistics()) as {
      tx: { fragments: { open: number; refused: { ownerLimit: number } } };
    };
    t.is(s.tx.fragments.refused.ownerLimit, 16);
    t.is(s.tx.fragments.open, 65);
  }));

test('a TX frame whose IPv4 header claims fewer than 20 bytes is refused: ports would be read from the wrong place', (t) =>
  withMachine(t, async (r) => {
    const a = await r.client();
    await r.open(a, 7000);
    await r.open(a, 16384);
    const f = (ihl: number, id: number) => {
      const x = udpFrame({
        dstMac: PEER_MAC,
        srcMac: r.m.mac as Mac,
        src: MACHINE_IP,
        dst: PEER_IP,
        srcPort: 53,
        dstPort: 5000,
        id, // with IHL 1 the filter would read the "source port" here
        payload: new Uint8Array(32),
      });
      x[14] = 0x40 | ihl;
      return Array.from(x);
    };
    for (const ihl of [0, 1, 4])
      t.deepEqual(await a.api.send(f(ihl, 7000)), [Err.ETHSRV_ERR_TX_REFUSED], `IHL ${ihl}`);
    await new Promise((res) => setTimeout(res, 50));
    t.is(r.onWire.length, 0);
  }));

test("netd's death leaves the filters it registered: clients keep their traffic", (t) =>
  withMachine(t, async (r) => {
    const a = await r.client();
    await r.open(a, 7000);
    await r.netd.kill();
    r.wire.send(udp(r.m.mac, 7000, 1));
    t.true(await eventually(async () => (await a.api.received()).count === 1));
    const s = (await r.m.driver.api.statistics()) as { filters: unknown[]; defaultBuffer?: number };
    t.is(s.filters.length, 1);
    t.is(s.defaultBuffer, undefined, "netd's own buffer went with it");
  }));

test('a client with many bindings gets no more buffers than one with one; the good client beside it is served', (t) =>
  withMachine(t, async (r) => {
    const good = await r.client();
    const hoarder = (await r.rt.spawn({
      module: new URL('../fixtures/actors/ether-hoarder.ts', import.meta.url),
      args: { service: 'm1/ether' },
    })) as import('../../runtime/index.ts').ActorRef<{
      hoard(bindings: number, each: number): Promise<{ accepted: number; refused: Record<string, number> }>;
      hoardTxAtOnce(n: number): Promise<number>;
    }>;
    // TX buffers registered all at once race the IOMMU's mapping: still 64 at most.
    t.is(await hoarder.api.hoardTxAtOnce(200), 64);
    const got = await hoarder.api.hoard(4, 40);
    t.deepEqual(got, { accepted: 0, refused: { E1000_ERR_TOO_MANY_BUFFERS: 160 } }, 'the share is spent');
    const other = (await r.rt.spawn({
      module: new URL('../fixtures/actors/ether-hoarder.ts', import.meta.url),
      args: { service: 'm1/ether' },
    })) as typeof hoarder;
    const gotOther = await other.api.hoard(4, 40);
    t.deepEqual(gotOther, { accepted: 64, refused: { E1000_ERR_TOO_MANY_BUFFERS: 160 - 64 } });
    // The good client still receives.
    await r.open(good, 7000);
    r.wire.send(udp(r.m.mac, 7000, 1));
    t.true(await eventually(async () => (await good.api.received()).count === 1));
  }));
