// The script every actor thread starts with (run as an eval'd CommonJS script, so
// that it needs no loader of its own). It holds control messages until the kernel's
// assignment names the code to load, imports it, and hands over to boot() in
// host.ts. A thread can be started ahead of time and assigned later (the warm pool).

export const BOOT_SCRIPT = `
const { workerData } = require('node:worker_threads');
if (workerData.sourceMaps) process.setSourceMapsEnabled(true);
const ctl = workerData.ctl;
const queued = [];
let loading = false;
function hold(m) {
  queued.push(m);
  if (loading || !m || m.t !== 'ev' || m.op !== 'assign') return;
  loading = true;
  import(m.arg.hostUrl).then(
    (h) => { ctl.off('message', hold); return h.boot(ctl, queued, h.actorModule); },
    (e) => {
      ctl.postMessage({ t: 'ev', op: 'failed', arg: { error: { code: workerData.loadErrorCode,
        detail: String((e && e.stack) || e) } } });
      setImmediate(() => process.exit(1));
    });
}
ctl.on('message', hold);
`;
