// The e1000n driver, end to end: frames come from the wire (a tap on the switch),
// through the emulated NIC and the driver, into the pbufs of the client whose
// filter claims them; what clients send goes through the transmit filters and out.
import test from 'ava';
import { arpFilter, arpTransmitFilter } from '../../lib/bfdmux/index.ts';
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
  }));
