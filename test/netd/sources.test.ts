// netd's own stack (actors/netd/stack.ts) answers ping and closed UDP ports. RFC 1122
// 3.2.1.3 / 3.2.2: no reply to a source that is not one host (broadcast, multicast,
// 0.0.0.0, loopback), and no ICMP error about a datagram sent to a link broadcast.
import test from 'ava';
import { NetdStack } from '../../actors/netd/stack.ts';
import { BROADCAST_MAC, icmpEchoFrame, ipv4, mac, udpFrame } from '../../lib/net/index.ts';

const US = ipv4('10.0.0.2');
const US_MAC = mac('02:00:00:00:00:01');

function stack() {
  const sent: Uint8Array[] = [];
  const s = new NetdStack(US_MAC, { ip: US, mask: ipv4('255.255.255.0'), gw: ipv4('10.0.0.1') }, {
    send: (f: Uint8Array) => void sent.push(f.slice()),
  } as never);
  return { s, sent };
}

for (const [what, src] of [
  ['limited broadcast', '255.255.255.255'],
  ['subnet broadcast', '10.0.0.255'],
  ['multicast', '224.0.0.1'],
  ['loopback', '127.0.0.1'],
] as const) {
  test(`a UDP datagram to a closed port from ${what} ${src} (link broadcast): no port unreachable`, (t) => {
    const { s, sent } = stack();
    const f = udpFrame({
      dstMac: BROADCAST_MAC,
      srcMac: BROADCAST_MAC,
      src: ipv4(src),
      dst: US,
      srcPort: 1,
      dstPort: 9,
      payload: new Uint8Array(100),
    });
    s.input(f, f.length, 1000);
    t.is(sent.length, 0);
  });
  test(`ping from ${what} ${src}: no echo reply`, (t) => {
    const { s, sent } = stack();
    const f = icmpEchoFrame({
      dstMac: US_MAC,
      srcMac: BROADCAST_MAC,
      src: ipv4(src),
      dst: US,
      type: 8,
      id: 1,
      seq: 1,
      payload: new Uint8Array(1000),
    });
    s.input(f, f.length, 1000);
    t.is(sent.length, 0);
  });
}

test('a ping to our address at the link broadcast gets no reply; a flood of pings gets at most the burst and the rate', (t) => {
  const { s, sent } = stack();
  const ping = (dstMac: number) =>
    icmpEchoFrame({
      dstMac: dstMac as never,
      srcMac: mac('02:00:00:00:00:09'),
      src: ipv4('10.0.0.9'),
      dst: US,
      type: 8,
      id: 1,
      seq: 1,
    });
  const b = ping(BROADCAST_MAC);
  s.input(b, b.length, 1000);
  t.is(sent.length, 0);
  const u = ping(US_MAC);
  for (let i = 0; i < 500; i++) s.input(u, u.length, 1000);
  t.is(sent.length, 50, 'the burst, then nothing within the same instant');
  t.is(s.stats.rateLimited, 450);
});
