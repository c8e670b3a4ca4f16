// The other process of the node:dgram baseline: counts datagrams, or echoes them.
import { createSocket } from 'node:dgram';

const sock = createSocket('udp4');
let mode: 'count' | 'echo' = 'count';
let got = 0;
sock.on('message', (msg, rinfo) => {
  if (mode === 'count') got++;
  else sock.send(msg, rinfo.port, rinfo.address);
});
sock.bind(0, '127.0.0.1', () => process.send!({ port: sock.address().port }));
process.on('message', (m: { count?: boolean; report?: boolean; echo?: boolean }) => {
  if (m.count) {
    mode = 'count';
    got = 0;
    process.send!({ ok: true });
  } else if (m.report) {
    // Let the last datagrams in flight land.
    setTimeout(() => process.send!({ got }), 100);
  } else if (m.echo) {
    mode = 'echo';
    process.send!({ ok: true });
  }
});
