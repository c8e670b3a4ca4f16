// A dgram client of a UDP echo server: the round trip of one datagram at a
// time (p50, p99), and echoes a second with a window of datagrams in flight. The
// baseline's client (against node:dgram's echo in another process), fishnet's client
// (with lib/lwip's node:dgram-shaped socket, in bench/actors/udp-echo-client.ts), and
// the Linux kernel's side of the UDP benchmark (run inside Linux's network namespace against
// fishnet's udp-echo):
//   node --import tsx bench/dgram-echo-client.ts ADDRESS PORT SIZE SAMPLES TOTAL WINDOW
import { createSocket as nodeSocket } from 'node:dgram';
import { summarize } from './stats.ts';

export interface EchoOptions {
  readonly samples: number;
  readonly total: number;
  readonly window: number;
}

/** What it needs of a socket: node:dgram's, or lib/lwip's (the same shape). */
export interface EchoSocket {
  bind(port: number, cb: () => void): unknown;
  send(msg: Buffer, port: number, address: string): void;
  on(event: 'message', listener: () => void): unknown;
  close(): unknown;
}

export async function dgramEcho(
  address: string,
  port: number,
  size: number,
  o: EchoOptions,
  createSocket: () => EchoSocket = () => nodeSocket('udp4'),
) {
  const sock = createSocket();
  await new Promise<void>((r) => sock.bind(0, () => r()));
  const payload = Buffer.alloc(size);
  let wake: (() => void) | undefined;
  let got = 0;
  sock.on('message', () => {
    got++;
    wake?.();
  });
  const next = (ms: number) =>
    new Promise<boolean>((r) => {
      const t = setTimeout(() => r(false), ms);
      wake = () => {
        clearTimeout(t);
        r(true);
      };
    });
  // Round trips, one at a time (the first 50 warm up).
  const us: number[] = [];
  let timeouts = 0;
  for (let i = 0; i < o.samples + 50; i++) {
    const t = performance.now();
    const back = next(1000);
    sock.send(payload, port, address);
    if (!(await back)) {
      timeouts++;
      continue;
    }
    if (i >= 50) us.push((performance.now() - t) * 1000);
  }
  // Echoes a second with `window` in flight: each echo sends the next.
  got = 0;
  let sent = 0;
  const t0 = performance.now();
  while (sent < Math.min(o.window, o.total)) {
    sock.send(payload, port, address);
    sent++;
  }
  while (got < sent || sent < o.total) {
    const before = got;
    if (!(await next(200)) && got === before) break; // nothing for 200 ms: the rest were lost
    // Keep `window` in flight: an echo back lets another go.
    while (sent - got < o.window && sent < o.total) {
      sock.send(payload, port, address);
      sent++;
    }
  }
  const secs = (performance.now() - t0) / 1000;
  sock.close();
  return {
    rttUs: summarize(us),
    rttTimeouts: timeouts,
    sent,
    received: got,
    perSec: Math.round(got / secs),
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [address, port, size, samples, total, window] = process.argv.slice(2);
  const r = await dgramEcho(address!, Number(port), Number(size), {
    samples: Number(samples),
    total: Number(total),
    window: Number(window),
  });
  console.log(JSON.stringify(r));
}
