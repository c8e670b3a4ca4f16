// `fishnet demo supervision`: a supervisor with three actors; one crashes; DOWN and
// the restart are shown, then the shutdown order.
import type DemoApp from '../../actors/apps/demo/main.ts';
import {
  type ActorRef,
  type ApiOf,
  describeReason,
  Runtime,
  type RuntimeEvent,
  type SupervisorRef,
} from '../../runtime/index.ts';
import { parseFlags } from '../flags.ts';
import type { Demo } from './common.ts';

const app = new URL('../../actors/apps/demo/main.ts', import.meta.url);

async function run(out: (line: string) => void): Promise<number> {
  const rt = new Runtime();
  const t0 = performance.now();
  const at = () => `${(performance.now() - t0).toFixed(0).padStart(5)} ms`;
  rt.on('event', (e: RuntimeEvent) => {
    if (e.type === 'restart')
      out(`${at()}  restart   ${e.supervisor}: ${e.child} (${e.strategy}) -> #${e.ids.join(', #')}`);
    if (e.type === 'give-up')
      out(`${at()}  give up   ${e.supervisor}: ${e.restarts} restarts in ${e.periodMs} ms`);
  });
  try {
    out(`${at()}  start     supervisor 'demo': one_for_one, at most 3 restarts in 5 s`);
    const sup: SupervisorRef = await rt.supervise({
      name: 'demo',
      strategy: 'one_for_one',
      intensity: 3,
      periodMs: 5000,
      children: ['alpha', 'beta', 'gamma'].map((id) => ({ id, module: app })),
    });
    const child = (id: string) => sup.child(id) as ActorRef<ApiOf<typeof DemoApp>>;
    for (const id of ['alpha', 'beta', 'gamma']) out(`${at()}  running   ${child(id).name} #${child(id).id}`);

    const beta = child('beta');
    const mon = rt.monitor(beta);
    out(`${at()}  monitor   ${beta.name} #${beta.id}`);
    const before = await rt.lookup('demo/beta');
    out(`${at()}  ping      ${await before.request('ping')}`);
    out(`${at()}  crash     ${beta.name} is told to throw`);
    // Its reply may not leave before it dies: the call then rejects with RT_ERR_ACTOR_DEAD.
    await beta.api.crash('crash requested by the demo').catch(() => {});
    const down = await mon.down;
    out(`${at()}  DOWN      ${down.name} #${down.id}: ${describeReason(down.reason)}`);
    const closed = await before.closed;
    out(`${at()}  binding   to ${before.peer.name} #${before.peer.id} ended: ${closed.kind}`);

    // The restarted child exports its service again; a new lookup reaches it.
    const after = await rt.lookup('demo/beta', { timeoutMs: 5000 });
    out(`${at()}  ping      ${await after.request('ping')}`);
    out(`${at()}  shutdown  children stop in reverse start order`);
    const order: string[] = [];
    rt.on('event', (e) => {
      if (e.type === 'exit') order.push(e.name);
    });
    await rt.shutdown();
    out(`${at()}  stopped   ${order.join(', ')}`);
    return 0;
  } finally {
    await rt.shutdown();
  }
}

export const supervision: Demo = {
  about: 'a supervisor with three actors; one crashes; DOWN and restart are shown',
  run: (io, argv) => {
    parseFlags(argv, {}); // it takes none: anything else is a mistake to name
    return run((l) => io.say(l));
  },
};
