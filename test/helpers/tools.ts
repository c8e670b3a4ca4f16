// External tools the tests compare against (tcpdump, tshark, ip, ...), and the test
// function to declare a test with: ava's `test` when they are here, `test.skip` when
// one is missing, so that such a test counts as skipped, never as passed.
import test, { type TestFn } from 'ava';
import { hasTool } from '../../embed/linux.ts';

export const have = hasTool;

export const missing = (tool: string) =>
  `${tool} is not installed (CI installs it with apt-get; locally: apt-get install ${tool})`;

/** `test` if every tool is installed, else `test.skip` (and say why once, on stderr). */
export function needs(...tools: string[]): TestFn | TestFn['skip'] {
  const absent = tools.filter((t) => !have(t));
  if (absent.length === 0) return test;
  process.stderr.write(`skipping tests that need ${absent.join(', ')}: ${absent.map(missing).join('; ')}\n`);
  return test.skip;
}

/** `test` when running as root with `ip` (network namespaces), else `test.skip`. */
export function needsRoot(...tools: string[]): TestFn | TestFn['skip'] {
  if (process.getuid?.() !== 0) {
    process.stderr.write('skipping tests that make network namespaces: not root\n');
    return test.skip;
  }
  return needs('ip', ...tools);
}
