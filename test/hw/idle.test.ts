// A booted, idle NIC must sleep: the whole process (device thread, host port, a
// driver waiting on the interrupt line) under 2% of one core over 5 s.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import test from 'ava';

const run = promisify(execFile);

test('an idle booted NIC uses well under 2% of a core over 5 s', async (t) => {
  const child = fileURLToPath(new URL('./idle-child.ts', import.meta.url));
  const { stdout } = await run(process.execPath, ['--import', 'tsx', child, '5'], { timeout: 30_000 });
  const r = JSON.parse(stdout.trim().split('\n').at(-1)!) as {
    seconds: number;
    cpuFraction: number;
    mainEventLoopUtilization: number;
  };
  t.log(`${(r.cpuFraction * 100).toFixed(3)}% of a core over ${r.seconds.toFixed(2)} s`);
  t.true(r.seconds >= 4.9);
  t.true(r.cpuFraction < 0.02, `${(r.cpuFraction * 100).toFixed(2)}% of a core`);
});
