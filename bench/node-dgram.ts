// The baseline a Node programmer would use instead of fishnet: node:dgram over
// loopback between this process and a child process (bench/dgram-peer.ts).
import { fork } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { dgramEcho, type EchoOptions } from './dgram-echo-client.ts';
import { summarize } from './stats.ts';

function peer() {
  const child = fork(new URL('./dgram-peer.ts', import.meta.url), [], {
    execArgv: ['--import', 'tsx'],
    stdio: 'ignore' as never,
  });
  const port = new Promise<number>((r) => child.once('message', (m) => r((m as { port: number }).port)));
  const ask = (m: object) =>
    new Promise<unknown>((r) => {
      child.once('message', r);
      child.send(m);
    });
  return { child, port, ask };
}

/** Datagrams/s one way (a burst the child counts), and the echo round trip. */
export async function nodeDgramOneWay(size: number, total: number, rttSamples: number) {
  const p = peer();
  const peerPort = await p.port;
  const sock = createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  const payload = Buffer.alloc(size);
  await p.ask({ count: true });
  const t0 = performance.now();
  let inFlight = 0;
  for (let i = 0; i < total; i++) {
    inFlight++;
    sock.send(payload, peerPort, '127.0.0.1', () => {
      inFlight--;
    });
    if (inFlight > 256) await new Promise<void>((r) => setImmediate(r));
  }
  const { got } = (await p.ask({ report: true })) as { got: number };
  const perSec = got / ((performance.now() - t0) / 1000);
  await p.ask({ echo: true });
  const us: number[] = [];
  let wake: (() => void) | undefined;
  sock.on('message', () => wake?.());
  for (let i = 0; i < rttSamples + 50; i++) {
    const back = new Promise<void>((r) => {
      wake = r;
    });
    const t = performance.now();
    sock.send(payload, peerPort, '127.0.0.1');
    await back;
    if (i >= 50) us.push((performance.now() - t) * 1000);
  }
  sock.close();
  p.child.kill();
  return { sent: total, received: got, perSec: Math.round(perSec), rttUs: summarize(us) };
}

/** node:dgram echo in the child process: round trips and echoes a second with a window in flight. */
export async function nodeDgramEcho(size: number, o: EchoOptions) {
  const p = peer();
  const peerPort = await p.port;
  await p.ask({ echo: true });
  try {
    return await dgramEcho('127.0.0.1', peerPort, size, o);
  } finally {
    p.child.kill();
  }
}
