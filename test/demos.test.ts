// The demos as a user runs them, with --json: their measured results hold.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import test from 'ava';

const run = promisify(execFile);
const bin = fileURLToPath(new URL('../bin/fishnet.mjs', import.meta.url));

async function demo(
  name: string,
): Promise<{ code: number; result: Record<string, unknown>; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [bin, 'demo', name, '--json'], {
      timeout: 120_000,
    });
    return { code: 0, result: JSON.parse(stdout.trim().split('\n').at(-1)!), stderr };
  } catch (e) {
    const x = e as { code: number; stdout: string; stderr: string };
    throw new Error(`fishnet demo ${name} failed (${x.code}):\n${x.stdout}\n${x.stderr}`);
  }
}

test('fishnet demo kill-client --json: the dead client leaves nothing; survivors lose nothing', async (t) => {
  const { result, stderr } = await demo('kill-client');
  t.like(result, {
    deadClientPortsBefore: 1,
    deadClientFiltersBefore: 2,
    deadClientPortsAfter: 0,
    deadClientFiltersAfter: 0,
    survivorFramesLost: 0,
  });
  t.true(typeof result.cleanupMs === 'number' && result.cleanupMs >= 0);
  const survivors = result.survivors as {
    sent: number;
    left: number;
    received: number;
    sendErrors: number;
  }[];
  t.is(survivors.length, 2);
  for (const s of survivors) {
    t.true(s.sent > 0);
    // Everything that left the peer arrived; what did not leave was counted at the peer.
    t.is(s.received, s.left);
    t.true(s.sent - s.left <= s.sent / 100, `the peer's own stack failed ${s.sent - s.left} of ${s.sent}`);
  }
  t.regex(stderr, /killing client-2 #\d+ mid-traffic/, 'the narration goes to stderr');
});

test('fishnet demo spoof --json: every attempt blocked or contained; nothing forged on the wire', async (t) => {
  const { result } = await demo('spoof');
  const attempts = result.attempts as {
    name: string;
    outcome: string;
    forgedOnWire: number;
    framesOnWire: number;
  }[];
  t.true(attempts.length >= 12);
  t.is(attempts[0]!.outcome, 'sent');
  t.is(attempts[0]!.framesOnWire, 1, 'the control frame is in the capture: the reading works');
  for (const a of attempts.slice(1))
    t.true(['blocked', 'contained'].includes(a.outcome), `${a.name}: ${a.outcome}`);
  t.is(result.forgedFramesOnWire, 0);
  t.like(result, { victim: { keptPort: true } });
  const v = result.victim as { sent: number; left: number; received: number };
  t.is(v.received, v.left);
  t.true(v.left > 0 && v.sent - v.left <= v.sent / 100);
});
