// An application actor: lib/lwip's node:dgram-shaped sockets on its machine.
import { defineActor } from 'fishnet';
import { open } from 'fishnet/lwip';

export default defineActor(async (ctx, args: { machine: string; to: string; port: number }) => {
  const net = await open(ctx, { machine: args.machine });
  ctx.onShutdown(() => net.close());
  const socket = net.dgram.createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, resolve));
  return {
    /** Send `text` to the echo service; resolves with what comes back. */
    ask: (text: string) =>
      new Promise<string>((resolve, reject) => {
        socket.once('message', (msg) => resolve(msg.toString()));
        socket.send(text, args.port, args.to, (err) => err && reject(err));
      }),
  };
});
