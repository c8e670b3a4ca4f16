// The applications that come with fishnet, by name, for `fishnet up --app NAME:PORT`
// and for programs that would rather name one than find its module.
export interface AppEntry {
  readonly module: URL;
  readonly about: string;
  /** The argument that `NAME:PORT` sets, if the app takes a port. */
  readonly portArg?: string;
  /** It binds that port (below 1024 it is given the capability for low ports). */
  readonly bindsPort?: boolean;
  /** Arguments `key=value` it accepts on the command line, and their kinds. */
  readonly args: Readonly<Record<string, 'number' | 'string'>>;
  /** Its API has stats(): counters that `fishnet stats` shows. */
  readonly hasStats?: boolean;
}

const at = (path: string) => new URL(path, import.meta.url);

export const APPS: Readonly<Record<string, AppEntry>> = {
  malicious: {
    module: at('../actors/apps/malicious/main.ts'),
    about: 'tries every way to forge frames or hurt other clients, and reports what got through',
    portArg: 'victimPort',
    args: { floodFrames: 'number', raceFrames: 'number' },
  },
};
