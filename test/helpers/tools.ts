// External tools the tests compare against (tcpdump, tshark), and how to say why a
// test cannot run when one is missing.
import { execFileSync } from 'node:child_process';

export function have(tool: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export const missing = (tool: string) =>
  `${tool} is not installed (CI installs it with apt-get; locally: apt-get install ${tool})`;
