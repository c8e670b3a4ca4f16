// A UDP echo server (RFC 862) on a machine's network, through lib/lwip's
// node:dgram-shaped sockets: every datagram to its port goes back to where it came
// from. Spawn it with { machine, port }; a port below 1024 (7 is echo's) needs the
// machine's netd-priv grant as the capability `lowPorts`.
//
// It uses a zero-copy socket: the message is a view of the stack's receive memory,
// valid while the handler runs, and send() to an address literal copies it into a
// transmit slot before returning, so nothing is copied on the way in and once on
// the way out.
import { open } from '../../lib/lwip/index.ts';
import { defineActor } from '../../runtime/index.ts';

export interface UdpEchoArgs {
  readonly machine: string;
  readonly port: number;
  /** Wait this long for the machine's driver and netd (default 5000 ms). */
  readonly timeoutMs?: number;
}

export default defineActor(async (ctx, args: UdpEchoArgs) => {
  if (!Number.isInteger(args?.port) || args.port < 1 || args.port > 0xffff)
    throw new TypeError(`udp-echo: port ${String(args?.port)} is not 1..65535`);
  const net = await open(ctx, { machine: args.machine, timeoutMs: args.timeoutMs ?? 5000 });
  const s = net.dgram.createSocket({ type: 'udp4', zeroCopy: true });
  const counters = { received: 0, bytes: 0, errors: 0, lastError: '' };
  s.on('message', (msg, rinfo) => {
    counters.received++;
    counters.bytes += msg.length;
    s.send(msg, rinfo.port, rinfo.address);
  });
  s.on('error', (e: Error & { code?: string }) => {
    counters.errors++;
    counters.lastError = e.code ?? e.message;
  });
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject);
    s.bind(args.port, () => {
      s.off('error', reject);
      resolve();
    });
  });
  ctx.onShutdown(() => net.close());
  const started = performance.now();

  return {
    address: () => s.address(),
    /** What it echoed: datagrams and bytes in, sends that failed (by errno), errors. */
    counters: () => {
      const st = s.stats();
      const secs = (performance.now() - started) / 1000;
      return {
        ...counters,
        echoed: st.sent,
        sendErrors: st.sendErrors,
        datagramsPerSecond: counters.received / secs,
      };
    },
    stats: () => net.stats(),
  };
});
