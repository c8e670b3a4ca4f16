// netd's filter templates give the verdicts the builders' filters give, for any port.
import test from 'ava';
import fc from 'fast-check';
import { FilterTemplates } from '../../actors/netd/templates.ts';
import {
  compileFilter,
  executeFilter,
  icmpErrorRxFilter,
  portRxFilter,
  portTxFilter,
} from '../../lib/bfdmux/index.ts';
import { IcmpType, icmpErrorFrame, ipv4, mac, port, tcpFrame, udpFrame } from '../../lib/net/index.ts';

const MAC = mac('02:00:00:00:00:01');
const IP = ipv4('10.0.0.2');
const PEER = mac('02:00:00:00:00:09');
const PEER_IP = ipv4('10.0.0.9');

test('a template filled with a port agrees with the filter built for that port, on frames to and from every port', (t) => {
  const templates = new FilterTemplates(MAC);
  fc.assert(
    fc.property(
      fc.constantFrom('udp' as const, 'tcp' as const),
      fc.integer({ min: 1, max: 65535 }),
      fc.integer({ min: 1, max: 65535 }),
      fc.boolean(),
      (kind, p, other, broadcast) => {
        const { rx, tx, icmp } = templates.filters(kind, IP, p);
        const spec = { mac: MAC, ip: IP, type: kind, port: port(p) };
        const rxRef = compileFilter(portRxFilter({ ...spec, broadcast: kind === 'udp' })).code;
        const txRef = compileFilter(portTxFilter(spec)).code;
        const icmpRef = compileFilter(icmpErrorRxFilter(spec)).code;
        const make =
          kind === 'udp'
            ? udpFrame
            : (f: Parameters<typeof udpFrame>[0]) => tcpFrame({ ...f, seq: 1, flags: 2 });
        for (const dstPort of [p, other]) {
          const inbound = make({
            dstMac: broadcast ? mac('ff:ff:ff:ff:ff:ff') : MAC,
            srcMac: PEER,
            src: PEER_IP,
            dst: broadcast ? ipv4('255.255.255.255') : IP,
            srcPort: 5000,
            dstPort,
          });
          if (executeFilter(rx, inbound) !== executeFilter(rxRef, inbound)) return false;
          const outbound = make({
            dstMac: PEER,
            srcMac: MAC,
            src: IP,
            dst: PEER_IP,
            srcPort: dstPort,
            dstPort: 5000,
          });
          if (executeFilter(tx, outbound) !== executeFilter(txRef, outbound)) return false;
          // The peer's answer: port unreachable, quoting what we sent from dstPort.
          const error = icmpErrorFrame({
            dstMac: MAC,
            srcMac: PEER,
            src: PEER_IP,
            dst: IP,
            type: IcmpType.UNREACHABLE,
            code: 3,
            datagram: outbound.subarray(14),
          });
          const verdict = executeFilter(icmp, error);
          if (verdict !== executeFilter(icmpRef, error) || verdict !== (dstPort === p ? 1 : 0)) return false;
        }
        return (
          executeFilter(
            rx,
            make({ dstMac: MAC, srcMac: PEER, src: PEER_IP, dst: IP, srcPort: 1, dstPort: p }),
          ) === 1
        );
      },
    ),
    { numRuns: 300, seed: 5 },
  );
  t.pass();
});
