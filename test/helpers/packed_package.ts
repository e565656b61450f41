import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './paths.js';

/**
 * The package as its users get it: `npm pack`, then `npm install <tarball>` into an empty project.
 * An installed project is kept under the system temp folder, keyed by the tarball's checksum, so
 * that the test files that need one (and repeated runs) install once per change of the package.
 */
export interface InstalledPackage {
  /** The user's project folder (package.json, node_modules/edgestream). */
  app: string;
  /** node_modules/edgestream inside it. */
  packageDir: string;
  tarballBytes: number;
  /** Seconds `npm install` took (0 when the project came from the cache). */
  installSeconds: number;
  /** What `npm install` printed (empty when cached). */
  installLog: string;
  fromCache: boolean;
}

/** The environment of a user's shell: none of the npm_* settings that `npm test` passes to its children. */
export function userEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^npm_/i.test(k) && k !== 'INIT_CWD' && k !== 'NODE_OPTIONS') env[k] = v;
  return { ...env, ...extra };
}

function run(cmd: string, args: string[], cwd: string, timeoutMs: number): SpawnSyncReturns<string> {
  const r = spawnSync(cmd, args, { cwd, env: userEnv(), encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} (in ${cwd}) failed with ${r.status ?? r.signal}:\n${r.stdout}\n${r.stderr}`);
  return r;
}

/** The version of a dev dependency as installed here (so that the user's install finds it in npm's cache). */
function installedVersion(name: string): string {
  return (JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
}

/**
 * Pack the package (from the dist/ that `npm test` has just built: `--ignore-scripts` skips the
 * rebuild `prepare` would do) and install it into an empty project, with tsx beside it to run the
 * TypeScript examples as the README says (`npx tsx …`). `--prefer-offline`: npm's cache answers
 * when it can, the npm registry otherwise; nothing else is reached.
 */
export function installPackedPackage(): InstalledPackage {
  if (!existsSync(join(ROOT, 'dist/index.js'))) run(process.execPath, [join(ROOT, 'scripts/build.mjs')], ROOT, 300_000);
  const store = join(tmpdir(), 'edgestream-packed');
  const packDir = join(store, `pack-${process.pid}`);
  mkdirSync(packDir, { recursive: true });
  const packed = JSON.parse(run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', packDir], ROOT, 120_000).stdout) as { filename: string; shasum: string; size: number }[];
  const { filename, shasum, size } = packed[0]!;
  const tarball = join(packDir, filename);
  const app = join(store, shasum);
  const base = { app, packageDir: join(app, 'node_modules/edgestream'), tarballBytes: size };
  if (existsSync(join(app, '.installed'))) {
    rmSync(packDir, { recursive: true, force: true });
    return { ...base, installSeconds: 0, installLog: '', fromCache: true };
  }
  // Install beside the final folder and rename: a concurrent test file sees a whole project or none.
  const work = join(store, `install-${process.pid}`);
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work);
  writeFileSync(join(work, 'package.json'), `${JSON.stringify({ name: 'edgestream-user', version: '1.0.0', private: true, type: 'module' }, null, 2)}\n`);
  const t0 = performance.now();
  const r = run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', tarball, `tsx@${installedVersion('tsx')}`], work, 300_000);
  const installSeconds = (performance.now() - t0) / 1000;
  writeFileSync(join(work, '.installed'), `${new Date().toISOString()}\n`);
  // Older installs are of other package contents: only the newest is kept.
  for (const old of readdirSync(store)) if (/^[0-9a-f]{40}$/.test(old) && old !== shasum) rmSync(join(store, old), { recursive: true, force: true });
  if (existsSync(app) && !existsSync(join(app, '.installed'))) rmSync(app, { recursive: true, force: true }); // a broken earlier attempt
  try {
    renameSync(work, app);
  } catch {
    rmSync(work, { recursive: true, force: true }); // another test file got there first
  }
  rmSync(packDir, { recursive: true, force: true });
  return { ...base, installSeconds, installLog: `${r.stdout}${r.stderr}`, fromCache: false };
}
