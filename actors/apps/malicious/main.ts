// A deliberately malicious client application, for fault demos and tests. It holds
// what any application holds - an `ether` binding to the driver and a `netd` binding,
// its own buffers and one port of its own - and tries, one after another, every way
// it has to send as someone else or to hurt another client. Each attempt reports
// what it tried, the verdicts it got back, and whether anything got through as far
// as it can tell; its frames carry a marker (evidence.ts) so that a capture of the
// wire can say what really went out.
import { Worker } from 'node:worker_threads';
import { fragmentIpv4 } from '../../../lib/lwip/ipv4-fragment.ts';
import {
  ArpOp,
  arpFrame,
  BROADCAST_MAC,
  IpProtocol,
  type Ipv4Addr,
  ipv4,
  ipv4Frame,
  type Mac,
  udpFrame,
} from '../../../lib/net/index.ts';
import { Err, errorName } from '../../../protocols/errors.ts';
import { ether_netd } from '../../../protocols/generated/ether_netd.ts';
import { type NetdClient, netd, PortType } from '../../../protocols/generated/netd.ts';
import { type ActorContext, defineActor } from '../../../runtime/index.ts';
import { type Identity, markPayload } from './evidence.ts';
import { RawLink, SLOT, type TxMessage } from './raw-link.ts';

export interface MaliciousArgs {
  /** The machine it runs on (its services are `<machine>/ether`, `<machine>/netd`). */
  readonly machine: string;
  /** Another client's UDP port, to impersonate and to close. */
  readonly victimPort?: number;
  /** Where its frames are addressed (default: the gateway, or 10.0.0.1). */
  readonly peer?: { readonly ip: string; readonly mac?: string };
  /** Frames for the flood (default 20,000) and for the rewrite race (default 2,000). */
  readonly floodFrames?: number;
  readonly raceFrames?: number;
}

/** 'blocked': nothing it tried worked. 'contained': only what it was entitled to went. */
export type Outcome = 'sent' | 'blocked' | 'contained' | 'GOT THROUGH';

export interface Attempt {
  readonly n: number;
  readonly name: string;
  readonly tried: number;
  /** What the driver or netd accepted. */
  readonly accepted: number;
  /** Verdicts by name (tx_done codes, rpc errors), with counts. */
  readonly verdicts: Record<string, number>;
  readonly outcome: Outcome;
}

export interface Report {
  readonly identity: Identity;
  readonly attempts: readonly Attempt[];
}

function tally(codes: readonly (number | string)[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const c of codes) {
    const k = typeof c === 'string' ? c : c === -1 ? 'no answer' : errorName(c);
    out[k] = (out[k] ?? 0) + 1;
  }
  return out;
}

const errName = (e: unknown) => (e as { errName?: string }).errName ?? (e as Error).message ?? String(e);

export default defineActor(async (ctx: ActorContext, args: MaliciousArgs) => {
  if (typeof args?.machine !== 'string')
    throw new TypeError('malicious: args.machine (a machine name) is required');
  const link = await RawLink.open(ctx, args.machine);
  const nd: NetdClient = await ctx.connect(netd, `${args.machine}/netd`, { timeoutMs: 5000 });
  const mac = Number((await nd.rpc.get_mac_address()).hwaddr) as Mac;
  const info = await nd.rpc.get_ip_info();
  const ip = info.ip as Ipv4Addr;
  const { port: own } = await nd.rpc.get_port(PortType.PORT_UDP, link.rxId, link.txId);
  const identity: Identity = { mac, ip, ports: [own] };
  const peerIp = args.peer ? ipv4(args.peer.ip) : ((info.gw || ipv4('10.0.0.1')) as Ipv4Addr);
  const peerMac = (
    args.peer?.mac ? Number.parseInt(args.peer.mac.replaceAll(':', ''), 16) : BROADCAST_MAC
  ) as Mac;
  const victim = args.victimPort ?? (own === 65535 ? own - 1 : own + 1);
  const attempts: Attempt[] = [];

  const udp = (n: number, o: { srcMac?: Mac; src?: Ipv4Addr; srcPort?: number } = {}) =>
    udpFrame({
      dstMac: peerMac,
      srcMac: o.srcMac ?? mac,
      src: o.src ?? ip,
      dst: peerIp,
      srcPort: o.srcPort ?? own,
      dstPort: 9,
      payload: markPayload(n),
    });

  const record = (
    name: string,
    codes: readonly (number | string)[],
    accepted: number,
    outcome?: Outcome,
  ): Attempt => {
    const a: Attempt = {
      n: attempts.length + 1,
      name,
      tried: codes.length,
      accepted,
      verdicts: tally(codes),
      outcome: outcome ?? (accepted === 0 ? 'blocked' : 'GOT THROUGH'),
    };
    attempts.push(a);
    return a;
  };
  const okCount = (codes: readonly number[]) => codes.filter((c) => c === Err.OK).length;

  // Each frame attempt: send, collect the verdicts.
  const frames = async (name: string, make: (n: number) => Uint8Array[]) => {
    const n = attempts.length + 1;
    const codes: number[] = [];
    for (const f of make(n)) codes.push(await link.send(f));
    return record(name, codes, okCount(codes));
  };
  const rpcs = async (name: string, calls: (() => Promise<unknown>)[]) => {
    const codes: string[] = [];
    for (const c of calls) {
      try {
        await c();
        codes.push('OK');
      } catch (e) {
        codes.push(errName(e));
      }
    }
    return record(name, codes, codes.filter((c) => c === 'OK').length);
  };

  const run = async (): Promise<Report> => {
    attempts.length = 0;
    // 1. The control: a frame it is entitled to send goes out.
    {
      const code = await link.send(udp(1));
      record(
        'control: a frame from its own port',
        [code],
        code === Err.OK ? 1 : 0,
        code === Err.OK ? 'sent' : 'blocked',
      );
    }
    await frames('spoof the source MAC', (n) => [udp(n, { srcMac: 0x02_de_ad_be_ef_01 as Mac })]);
    await frames('spoof the source IP', (n) => [
      udp(n, { src: peerIp }),
      udp(n, { src: ((ip & 0xffffff00) | ((ip + 1) & 0xff)) as Ipv4Addr }),
    ]);
    await frames("send from another client's port", (n) => [udp(n, { srcPort: victim })]);
    await frames("claim another host's address in ARP", (n) => {
      const f = arpFrame({
        dstMac: BROADCAST_MAC,
        srcMac: mac,
        op: ArpOp.REPLY,
        senderMac: mac,
        senderIp: peerIp,
        targetMac: BROADCAST_MAC,
        targetIp: peerIp,
      });
      f.set(markPayload(n, 16), 42); // in the padding
      return [f];
    });
    await rpcs("close another client's port", [() => nd.rpc.close_port(PortType.PORT_UDP, victim)]);
    {
      // Buffer ids are small numbers: try every one that is not its own, as RX and as TX.
      const others = Array.from({ length: 32 }, (_, i) => i + 1).filter(
        (b) => b !== link.rxId && b !== link.txId,
      );
      const calls: (() => Promise<unknown>)[] = [];
      others.forEach((b, i) => {
        calls.push(() => nd.rpc.bind_port(PortType.PORT_UDP, 40000 + i, b, link.txId));
        calls.push(() => nd.rpc.bind_port(PortType.PORT_UDP, 40100 + i, link.rxId, b));
        calls.push(() => nd.rpc.get_port(PortType.PORT_UDP, b, b));
      });
      await rpcs("open ports with another client's buffers", calls);
    }
    await rpcs('open a privileged port without the capability', [
      () => nd.rpc.bind_port(PortType.PORT_UDP, 22, link.rxId, link.txId),
    ]);
    await rpcs("register filters itself (ether_netd, netd's interface to the driver)", [
      async () => {
        const b = await ctx.connect(ether_netd, `${args.machine}/ether_netd`, { timeoutMs: 2000 });
        await b.rpc.reset_filters();
      },
    ]);
    {
      // transmit_packet naming memory that is not in its TX buffer.
      const size = link.txMem.byteLength;
      const ok = udp(attempts.length + 1);
      link.txBytes.set(ok, 0);
      const msgs: TxMessage[] = [
        [link.txId, link.pbuf(), size - 10, ok.length, 1],
        [link.txId, link.pbuf(), 0xffff_fff0, 64, 1],
        [link.txId, link.pbuf(), 0, 0xffff_ffff, 1],
        [link.rxId, link.pbuf(), 0, ok.length, 1],
        [link.txId, link.pbuf(), 0, ok.length, 0],
      ];
      for (let b = 1; b <= 32; b++)
        if (b !== link.txId && b !== link.rxId) msgs.push([b, link.pbuf(), 0, ok.length, 1]);
      const codes = await link.raw(msgs);
      record('name memory outside its own buffers', codes, okCount(codes));
    }
    {
      // Rewrite the source port to the victim's from another thread while frames are submitted.
      const n = attempts.length + 1;
      const f = udp(n);
      const slot = 1;
      link.txBytes.set(f, slot * SLOT);
      const at = slot * SLOT + 34;
      const stopBuf = new SharedArrayBuffer(4);
      const stopWord = new Int32Array(stopBuf);
      const flipper = new Worker(
        `const { workerData: w } = require('node:worker_threads');
         const b = new Uint8Array(w.mem);
         const stop = new Int32Array(w.stop);
         for (let i = 0; Atomics.load(stop, 0) === 0; i++) {
           const p = i & 1 ? w.own : w.victim;
           b[w.at] = p >> 8; b[w.at + 1] = p & 255;
         }`,
        { eval: true, workerData: { mem: link.txMem, at, own, victim, stop: stopBuf } },
      );
      const codes: number[] = [];
      const total = args.raceFrames ?? 2000;
      try {
        for (let sent = 0; sent < total; ) {
          const batch: TxMessage[] = [];
          for (let k = 0; k < 128 && sent < total; k++, sent++)
            batch.push([link.txId, link.pbuf(), slot * SLOT, f.length, 1]);
          codes.push(...(await link.raw(batch)));
        }
      } finally {
        Atomics.store(stopWord, 0, 1);
        await flipper.terminate();
      }
      // Frames it was entitled to may go (they were checked on the driver's own copy).
      record(
        'rewrite the header after submitting it (another thread races the driver)',
        codes,
        okCount(codes),
        'contained',
      );
    }
    {
      // Flood: transmit_packet as fast as the ring takes them, never waiting for a verdict.
      const n = attempts.length + 1;
      const f = udp(n);
      for (let s = 0; s < RawLink.slots; s++) link.txBytes.set(f, s * SLOT);
      const total = args.floodFrames ?? 20_000;
      const ids: number[] = [];
      for (let i = 0; i < total; i++) {
        const id = link.pbuf();
        ids.push(id);
        await link.post([link.txId, id, (i % RawLink.slots) * SLOT, f.length, 1]);
        if ((i & 255) === 255) link.ep.flush();
      }
      link.ep.flush();
      const codes = await link.collect(ids, 20_000);
      record('flood its ring to the driver', codes, okCount(codes), 'contained');
    }
    await frames('forge IP fragments', (n) => {
      // Later fragments with no first, and a first fragment from another client's port.
      const later = (offset: number) =>
        ipv4Frame({
          dstMac: peerMac,
          srcMac: mac,
          src: ip,
          dst: peerIp,
          protocol: IpProtocol.UDP,
          id: 0x4242,
          fragmentOffset: offset,
          moreFragments: offset < 2048,
          payload: markPayload(n, 64),
        });
      const whole = udpFrame({
        dstMac: peerMac,
        srcMac: mac,
        src: ip,
        dst: peerIp,
        srcPort: victim,
        dstPort: 9,
        id: 0x4343,
        payload: new Uint8Array(2000).map((_, i) => markPayload(n)[i % 17]!),
      });
      const frags = fragmentIpv4(whole.subarray(14), 1000);
      const first = frags.ok ? [new Uint8Array([...whole.subarray(0, 14), ...frags.fragments[0]!])] : [];
      return [later(1024), later(2048), ...first];
    });
    return { identity, attempts: [...attempts] };
  };

  return {
    run,
    identity: () => identity,
  };
});
