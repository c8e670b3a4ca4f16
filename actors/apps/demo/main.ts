// A small application actor for the demos: it answers pings on its own service
// and crashes when asked to, so that supervision has something to do.
import { defineActor } from '../../../runtime/index.ts';

export default defineActor(async (ctx) => {
  let pings = 0;
  await ctx.export(ctx.name, (b) => {
    b.handle('ping', () => {
      pings++;
      return `pong from ${ctx.name} #${ctx.self}`;
    });
  });
  return {
    pings: () => pings,
    crash: (why: string) => {
      setImmediate(() => {
        throw new Error(why);
      });
    },
  };
});
