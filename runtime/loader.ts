// Finding and preparing an actor's code for its thread.
//
// Every actor thread imports one file: the actor's module bundled by esbuild
// together with the runtime's worker host. Measured here: a TypeScript loader in
// each thread costs ~200 ms per spawn (its hooks run on a thread of their own), and
// even compiled JavaScript loads ~30 ms slower as a tree of small modules than as
// one file; a bundle takes ~4 ms to build and is cached until an input changes. So
// .ts and .js actors take the same path. Packages stay external and import.meta.url
// keeps each file's own URL, so a bundled actor behaves as the same code run by tsx
// would; what does not work is a dynamic import() of a .ts file at run time.

import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Plugin } from 'esbuild';
import { FishnetError } from '../protocols/errors.ts';

export interface LoadedActor {
  /** What the thread imports: a bundle of the worker host and the actor module. */
  readonly hostUrl: string;
  readonly path: string;
}

interface Cached {
  readonly inputs: readonly { path: string; mtimeMs: number; size: number }[];
  /** The bundle's file: URL. */
  readonly url: string;
}

const TS_EXT = /\.(ts|mts|cts|tsx)$/;

export class ModuleLoader {
  private readonly cache = new Map<string, Cached>();
  private readonly building = new Map<string, Promise<Cached>>();
  /** The worker host next to this file: host.ts in source mode, host.js when compiled. */
  private readonly hostPath = fileURLToPath(
    new URL(`./worker/host${extname(fileURLToPath(import.meta.url))}`, import.meta.url),
  );
  /** The directory above runtime/: the project root in source mode, dist/ when compiled. */
  private readonly fishnetRoot = fileURLToPath(new URL('..', import.meta.url));

  /** An actor module, bundled with the worker host. */
  async load(spec: string | URL): Promise<LoadedActor> {
    const path = locate(spec);
    const entry =
      `export { boot } from ${JSON.stringify(this.hostPath)};\n` +
      `export * as actorModule from ${JSON.stringify(path)};\n`;
    return { hostUrl: await this.build(path, 'actor', entry), path };
  }

  /** Any module as one JavaScript file (for worker pools that need a JS entry): its file: URL. */
  async standalone(spec: string | URL): Promise<string> {
    const path = locate(spec);
    const entry = `export * from ${JSON.stringify(path)};\nexport { default } from ${JSON.stringify(path)};\n`;
    return this.build(path, 'standalone', entry);
  }

  private async build(path: string, kind: string, entry: string): Promise<string> {
    const key = `${kind}:${path}`;
    const cached = this.cache.get(key);
    if (cached && (await fresh(cached))) return cached.url;
    let job = this.building.get(key);
    if (!job) {
      job = this.bundle(path, entry).finally(() => this.building.delete(key));
      this.building.set(key, job);
    }
    const built = await job;
    this.cache.set(key, built);
    return built.url;
  }

  private async bundle(path: string, entry: string): Promise<Cached> {
    const esbuild = await import('esbuild');
    let result: Awaited<ReturnType<typeof esbuild.build>> & { outputFiles: { text: string }[] };
    try {
      result = (await esbuild.build({
        stdin: {
          contents: entry,
          resolveDir: dirname(path),
          sourcefile: 'fishnet-actor-entry.ts',
          loader: 'ts',
        },
        absWorkingDir: dirname(path),
        bundle: true,
        format: 'esm',
        platform: 'node',
        target: 'node20',
        sourcemap: 'external',
        outfile: 'bundle.mjs',
        write: false,
        metafile: true,
        logLevel: 'silent',
        plugins: [packagesExternal(this.fishnetRoot), ownImportMetaUrl],
      })) as typeof result;
    } catch (e) {
      const errors = (
        e as { errors?: { text: string; location?: { file: string; line: number; column: number } }[] }
      ).errors;
      const detail = errors?.length
        ? errors
            .map(
              (m) =>
                (m.location ? `${m.location.file}:${m.location.line}:${m.location.column + 1}: ` : '') +
                m.text,
            )
            .join('\n')
        : String(e);
      throw new FishnetError('RT_ERR_MODULE_LOAD', detail);
    }
    const text = result.outputFiles.find((f: { path: string }) => f.path.endsWith('.mjs'))!.text;
    const map = result.outputFiles.find((f: { path: string }) => f.path.endsWith('.map'))!.text;
    const dir = cacheDir(path);
    await mkdir(dir, { recursive: true });
    const hash = createHash('sha256').update(text).digest('hex').slice(0, 16);
    // <module>-<which module, by path>-<which build, by content>.mjs
    const which = createHash('sha256').update(path).digest('hex').slice(0, 8);
    const prefix = `${basename(path).replace(/\.[^.]*$/, '')}-${which}-`;
    const out = join(dir, `${prefix}${hash}.mjs`);
    if (!existsSync(out)) {
      await pruneOlder(dir, basename(out), prefix);
      // Write then rename: concurrent test processes may build the same bundle.
      const tmp = `${out}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
      await writeFile(`${tmp}.map`, map);
      await rename(`${tmp}.map`, `${out}.map`);
      await writeFile(tmp, `${text}\n//# sourceMappingURL=${basename(out)}.map\n`);
      await rename(tmp, out);
    }
    const inputs = await Promise.all(
      Object.keys(result.metafile!.inputs)
        .filter((p) => !p.startsWith('<') && !p.endsWith('fishnet-actor-entry.ts'))
        .map(async (p) => {
          const abs = resolve(dirname(path), p);
          const s = await stat(abs);
          return { path: abs, mtimeMs: s.mtimeMs, size: s.size };
        }),
    );
    return { inputs, url: pathToFileURL(out).href };
  }
}

/** Resolve a module spec to an existing file: .js may name its .ts source and the other way round. */
export function locate(spec: string | URL): string {
  let path: string;
  if (spec instanceof URL) {
    if (spec.protocol !== 'file:')
      throw new FishnetError('RT_ERR_BAD_SPEC', `module must be a file: URL, not ${spec.href}`);
    path = fileURLToPath(spec);
  } else if (typeof spec === 'string' && spec.length > 0) {
    path = spec.startsWith('file:') ? fileURLToPath(spec) : resolve(spec);
  } else {
    throw new FishnetError('RT_ERR_BAD_SPEC', 'module must be a path or a file: URL');
  }
  const swaps: Record<string, string> = { '.js': '.ts', '.mjs': '.mts', '.ts': '.js', '.mts': '.mjs' };
  for (const candidate of [path, path.replace(/\.[cm]?[jt]s$/, (e) => swaps[e] ?? e)]) {
    if (existsSync(candidate)) return candidate;
  }
  throw new FishnetError('RT_ERR_MODULE_NOT_FOUND', path);
}

async function fresh(c: Cached): Promise<boolean> {
  try {
    if (!existsSync(fileURLToPath(c.url))) return false;
    const now = await Promise.all(c.inputs.map((i) => stat(i.path)));
    return now.every((s, k) => s.mtimeMs === c.inputs[k]!.mtimeMs && s.size === c.inputs[k]!.size);
  } catch {
    return false;
  }
}

/**
 * Remove bundles of the same module built from older sources (other hashes), so that
 * the cache does not grow with every edit. Bundles newer than a minute are kept: a
 * concurrent test process may have just built one it is about to load.
 */
async function pruneOlder(dir: string, keep: string, prefix: string): Promise<void> {
  const { readdir, unlink } = await import('node:fs/promises');
  const now = Date.now();
  for (const f of await readdir(dir).catch(() => [] as string[])) {
    if (!f.startsWith(prefix) || f === keep || f === `${keep}.map`) continue;
    if (!/^[0-9a-f]{16}\.mjs(\.map)?$/.test(f.slice(prefix.length))) continue;
    const s = await stat(join(dir, f)).catch(() => undefined);
    if (s && now - s.mtimeMs > 60_000) await unlink(join(dir, f)).catch(() => {});
  }
}

/** node_modules/.cache/fishnet of the nearest project, so that bare imports resolve from the bundle. */
function cacheDir(path: string): string {
  for (let dir = dirname(path); ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'node_modules'))) return join(dir, 'node_modules', '.cache', 'fishnet');
    if (dirname(dir) === dir) return join(tmpdir(), 'fishnet-cache');
  }
}

/**
 * The actor's own packages stay external: they load from node_modules at run time,
 * as they would unbundled. They are resolved here, from the file that imports them,
 * and written into the bundle as file: URLs, because the bundle itself lives
 * elsewhere (a package's self-reference, say, only resolves from inside it).
 * Packages that fishnet's own code imports (comlink) go into the bundle.
 */
function packagesExternal(fishnetRoot: string): Plugin {
  const again = Symbol('resolving');
  return {
    name: 'fishnet-packages-external',
    setup(build) {
      build.onResolve({ filter: /^[^./]/ }, async (args) => {
        if (args.pluginData === again) return undefined;
        if (args.path.startsWith('node:')) return { path: args.path, external: true };
        // The kernel's bundler is never part of an actor.
        if (args.path === 'esbuild') return { path: args.path, external: true };
        const ours =
          args.importer.startsWith(fishnetRoot) &&
          !args.importer.slice(fishnetRoot.length).includes('node_modules');
        if (ours) return undefined;
        const r = await build.resolve(args.path, {
          kind: args.kind,
          resolveDir: args.resolveDir,
          pluginData: again,
        });
        if (r.errors.length > 0) return { errors: r.errors };
        // Builtins without the node: prefix resolve to themselves.
        return { path: r.path.startsWith('/') ? pathToFileURL(r.path).href : r.path, external: true };
      });
    },
  };
}

/** Inside a bundle, import.meta.url would name the bundle; give each file back its own URL. */
const ownImportMetaUrl: Plugin = {
  name: 'fishnet-own-import-meta-url',
  setup(build) {
    build.onLoad({ filter: /\.[cm]?[jt]s$/ }, async (args) => {
      if (args.path.includes(`${'/'}node_modules${'/'}`)) return undefined;
      const src = await readFile(args.path, 'utf8');
      if (!src.includes('import.meta')) return undefined;
      const url = pathToFileURL(args.path).href;
      const contents = src
        .replaceAll('import.meta.url', JSON.stringify(url))
        .replaceAll('import.meta.filename', JSON.stringify(args.path))
        .replaceAll('import.meta.dirname', JSON.stringify(dirname(args.path)));
      return { contents, loader: TS_EXT.test(args.path) ? 'ts' : 'js' };
    });
  },
};
