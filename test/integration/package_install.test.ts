import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { encodeS16le, readWavSamples } from '../../runtime/audio/wav_samples.js';
import { startEmbeddedBroker, type EmbeddedBroker } from '../../transports/mqtt/embedded_broker.js';
import { MqttLog } from '../helpers/mqtt_log.js';
import { installPackedPackage, userEnv, type InstalledPackage } from '../helpers/packed_package.js';
import { CLI, ROOT } from '../helpers/paths.js';
import { tempDir } from '../helpers/tmp.js';

// `npm pack`, `npm install <tarball>` into an empty project, and everything a user runs from there:
// the command line, the README's first library example and every example, each compared with the
// same thing run in the repository. The installed project is cached by tarball checksum
// (test/helpers/packed_package.ts), so a run after no change to the package skips the install.

interface Run { status: number | null; stdout: string; stderr: string }

describe('the packed package, installed as a user installs it', () => {
  let pkg: InstalledPackage;
  const work = tempDir();
  /** 1 s of faint noise, the spoken "off" fixture, 1 s of noise, as 16 kHz s16le PCM. */
  let recording: string;
  const bin = (name: string): string => join(pkg.app, 'node_modules/.bin', name);
  const example = (path: string): string => join(pkg.packageDir, 'examples', path);
  /** `node --import tsx <example>` in the user's project (their tsx): one process, so signals reach the example. */
  const tsxArgs = (path: string, args: string[]): string[] => ['--import', 'tsx', example(path), ...args];
  /** A command in the user's project, with the user's environment (no npm_* settings from `npm test`). */
  const inApp = (cmd: string, args: string[], input?: string | Uint8Array): Run => {
    const r = spawnSync(cmd, args, { cwd: pkg.app, env: userEnv({ EDGESTREAM_LOG: 'silent' }), encoding: 'utf8', timeout: 120_000, ...(input !== undefined && { input }) });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  };
  /** The same in the repository: the built CLI, or an example through the repository's tsx. */
  const inRepo = (args: string[]): Run => {
    const r = spawnSync(process.execPath, args, { cwd: ROOT, env: userEnv({ EDGESTREAM_LOG: 'silent' }), encoding: 'utf8', timeout: 120_000 });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  };

  before(() => {
    pkg = installPackedPackage();
    const noise = (seconds: number): Float32Array => {
      const a = new Float32Array(16000 * seconds);
      let x = 1;
      for (let i = 0; i < a.length; i++) { x = (x * 1103515245 + 12345) % 2147483648; a[i] = (x / 2147483648 - 0.5) * 0.002; }
      return a;
    };
    const off = readWavSamples(join(ROOT, 'test/fixtures/kws/off__us-klatt3.wav')).samples;
    const samples = Float32Array.from([...noise(1), ...off, ...noise(1)]);
    recording = join(work, 'off.s16le');
    writeFileSync(recording, encodeS16le(samples));
  });

  it('installs with nothing but the npm registry, and without onnxruntime-node', (t) => {
    t.diagnostic(`tarball ${(pkg.tarballBytes / 1e6).toFixed(2)} MB; ${pkg.fromCache ? 'project from the cache' : `npm install ${pkg.installSeconds.toFixed(1)} s`}`);
    assert.ok(existsSync(join(pkg.packageDir, 'dist/index.js')));
    assert.ok(existsSync(bin('edgestream')), 'the edgestream command is linked');
    assert.equal(existsSync(join(pkg.app, 'node_modules/onnxruntime-node')), false, 'onnxruntime-node is an optional peer: not installed');
    for (const source of ['runtime', 'models/lmuformer/family.ts', 'transports', 'cli', 'index.ts']) {
      assert.equal(existsSync(join(pkg.packageDir, source)), false, `${source} does not ship (examples use the package, not its sources)`);
    }
    if (!pkg.fromCache) {
      assert.doesNotMatch(pkg.installLog, /npm error|ENOTFOUND|onnxruntime/i, pkg.installLog);
      // npm 11's review list of install scripts is the only warning (docs/installing.md): no engine
      // warnings (the NATS client is pinned to a release that declares Node 20) or deprecations.
      // esbuild comes with the tsx this project installs beside edgestream, not with edgestream.
      const warnings = pkg.installLog.split('\n').filter((l) => l.startsWith('npm warn'));
      assert.deepEqual(warnings.filter((l) => !l.startsWith('npm warn install-scripts')), [], pkg.installLog);
      const reviewed = warnings.map((l) => /^npm warn install-scripts {3}(\S+)@/.exec(l)?.[1]).filter(Boolean);
      assert.ok(reviewed.every((name) => name === 'edgestream' || name === 'protobufjs' || name === 'esbuild'), pkg.installLog);
    }
  });

  it('the command line: inspect the shipped model and classify a clip, as in the repository', () => {
    const model = join(pkg.packageDir, 'models/lmuformer/demo/kws12.safetensors');
    const inspected = inApp('npx', ['edgestream', 'inspect', model]);
    assert.equal(inspected.status, 0, inspected.stderr);
    assert.equal(inspected.stdout, inRepo([CLI, 'inspect', join(ROOT, 'models/lmuformer/demo/kws12.safetensors')]).stdout);
    assert.match(inspected.stdout, /lmuformer-kws12/);

    const clip = join(ROOT, 'test/fixtures/kws/left__rms.wav');
    const classified = inApp(bin('edgestream'), ['classify', 'kws12', clip, '--json']);
    assert.equal(classified.status, 0, classified.stderr);
    assert.deepEqual(JSON.parse(classified.stdout), JSON.parse(inRepo([CLI, 'classify', 'kws12', clip, '--json']).stdout));

    // The onnx backend without onnxruntime-node: a clear error that says how to add it.
    const onnx = inApp(bin('edgestream'), ['classify', 'kws12', clip, '--backend', 'onnx']);
    assert.equal(onnx.status, 2);
    assert.match(onnx.stderr, /^edgestream: E_BACKEND: the onnx backend needs the npm package onnxruntime-node, which is not installed .*npm install onnxruntime-node --onnxruntime-node-install=skip/);
  });

  it('the README\'s first library example (createKeywordSpotter on a shipped model) finds what `listen` finds', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const code = [...readme.matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1]!).find((c) => c.includes('createKeywordSpotter('));
    assert.ok(code, 'README has a js example with createKeywordSpotter');
    const script = join(pkg.app, 'readme_example.mjs');
    writeFileSync(script, code);
    const sample = join(pkg.packageDir, 'models/lmuformer/demo/sample.wav');
    const r = inApp(process.execPath, [script], readFileSync(sample));
    assert.equal(r.status, 0, r.stderr);
    const model = /createKeywordSpotter\('([^']+)'/.exec(code)![1]!;
    const expected = inApp(bin('edgestream'), ['listen', model, sample, '--json']).stdout.trim().split('\n').map((l) => JSON.parse(l) as { label: string; start_ms: number });
    assert.ok(expected.length > 0, 'the sample holds keywords');
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines.length, expected.length, r.stdout);
    expected.forEach((e, i) => {
      assert.ok(lines[i]!.includes(e.label) && lines[i]!.includes(String(e.start_ms)), `line ${i} "${lines[i]}" reports ${e.label} at ${e.start_ms} ms`);
    });
  });

  it('examples/sensor-drift and examples/sensor-stream give the repository\'s numbers', () => {
    const out = join(work, 'drift');
    const drift = inApp(process.execPath, tsxArgs('sensor-drift/run.ts', ['--samples', '600', '--out', out]));
    assert.equal(drift.status, 0, drift.stderr);
    const repoDrift = inRepo(['--import', 'tsx', 'examples/sensor-drift/run.ts', '--samples', '600', '--out', join(work, 'drift-repo')]);
    const figures = (s: string): string[] => s.split('\n').filter((l) => !l.startsWith('plots:'));
    assert.deepEqual(figures(drift.stdout), figures(repoDrift.stdout));
    assert.match(drift.stdout, /one-step MSE\s+TTT learning \d+\.\d+/);
    assert.match(readFileSync(join(out, 'forecast.svg'), 'utf8'), /^<svg /);

    const stream = inApp(process.execPath, tsxArgs('sensor-stream/run.ts', ['--samples', '300', '--rate', '1000']));
    assert.equal(stream.status, 0, stream.stderr);
    assert.match(stream.stdout, /300 samples over MQTT, 300 forecasts received/);
    assert.equal(stream.stdout, inRepo(['--import', 'tsx', 'examples/sensor-stream/run.ts', '--samples', '300', '--rate', '1000']).stdout);
  });

  describe('examples over one MQTT broker: raspberry-pi publishes, embedding detects and shows, subscriber acts', () => {
    let broker: EmbeddedBroker;
    const children: ChildProcessWithoutNullStreams[] = [];
    before(async () => { broker = await startEmbeddedBroker(); });
    after(async () => {
      for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
      await broker.close();
    });

    /** Start a long-running example; resolves with its process once `ready` matches its output. */
    const startExample = (path: string, args: string[], ready: RegExp): Promise<{ child: ChildProcessWithoutNullStreams; match: RegExpExecArray; output: () => string }> => {
      const child = spawn(process.execPath, tsxArgs(path, args), { cwd: pkg.app, env: userEnv({ EDGESTREAM_LOG: 'warn' }) });
      children.push(child);
      let output = '';
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${path} did not start: ${output}`)), 30_000);
        const onData = (d: Buffer): void => {
          output += d.toString();
          const match = ready.exec(output);
          if (match) { clearTimeout(timer); resolve({ child, match, output: () => output }); }
        };
        child.stdout.on('data', onData);
        child.stderr.on('data', onData);
        child.once('exit', (code) => reject(new Error(`${path} exited (${code}) before it was ready: ${output}`)));
      });
    };
    /** Run to the end without blocking this process (the broker lives here). */
    const runToEnd = (path: string, args: string[], input: Uint8Array): Promise<Run> => new Promise((resolve) => {
      const child = spawn(process.execPath, tsxArgs(path, args), { cwd: pkg.app, env: userEnv({ EDGESTREAM_LOG: 'warn' }) });
      children.push(child);
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.once('exit', (status) => resolve({ status, stdout, stderr }));
      child.stdin.end(input);
    });
    const exited = (child: ChildProcessWithoutNullStreams): Promise<number | null> =>
      child.exitCode !== null ? Promise.resolve(child.exitCode) : new Promise((r) => child.once('exit', (code) => r(code)));

    it('the events published equal `edgestream listen` on the same audio; the light is switched; the app shows the keyword', async () => {
      const events = await MqttLog.connect(broker.url, ['edgestream/kitchen/keyword']);
      try {
        const app = await startExample('embedding/service_in_app.ts', ['--broker', broker.url, '--port', '0'], /app on (http:\/\/127\.0\.0\.1:\d+)\/keywords/);
        const subscriber = await startExample('subscriber/react_to_keywords.ts', ['--broker', broker.url], /listening for keywords/);
        const mic = await runToEnd('raspberry-pi/publish_mic.ts', ['--broker', broker.url, '--device', 'kitchen'], readFileSync(recording));
        assert.equal(mic.status, 0, mic.stderr);
        assert.match(mic.stderr, /publish_mic: 150 chunks sent/);

        const offline = inApp(bin('edgestream'), ['listen', 'kws12', recording, '--format', 's16le', '--json']).stdout.trim().split('\n').filter(Boolean)
          .map((l) => { const e = JSON.parse(l) as { label: string; start_ms: number; end_ms: number }; return `${e.label} ${e.start_ms}-${e.end_ms}`; });
        assert.ok(offline.some((e) => e.startsWith('off ')), `the model hears "off" in the recording (what the subscriber acts on): ${offline.join(', ')}`);
        await events.waitFor(() => events.messages.length >= offline.length, `${offline.length} keyword events`, 20_000);
        await new Promise((r) => setTimeout(r, 300)); // nothing more arrives
        assert.deepEqual(events.messages.map((m) => { const e = JSON.parse(m.text) as { label: string; start_ms: number; end_ms: number }; return `${e.label} ${e.start_ms}-${e.end_ms}`; }), offline);

        const deadline = Date.now() + 10_000;
        while (!subscriber.output().includes('home/kitchen/light/set OFF') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
        assert.match(subscriber.output(), /home\/kitchen\/light\/set OFF/);

        const shown = await (await fetch(`${app.match[1]}/keywords`)).json() as Record<string, { keyword: string }>;
        assert.equal(shown.kitchen?.keyword, offline.at(-1)!.split(' ')[0]);

        app.child.kill('SIGTERM');
        subscriber.child.kill('SIGINT');
        assert.equal(await exited(app.child), 0, app.output());
        assert.equal(await exited(subscriber.child), 0, subscriber.output());
      } finally {
        await events.close();
      }
    });

    it('browser-mic serves its page (WebRTC through the optional @roamhq/wrtc) and stops on SIGTERM', async () => {
      const mic = await startExample('browser-mic/serve_browser_mic.ts', ['--port', '0'], /open (http:\/\/127\.0\.0\.1:\d+\/webrtc\/)#token=/);
      const page = await fetch(mic.match[1]!);
      assert.equal(page.status, 200);
      assert.match(await page.text(), /<html/i);
      mic.child.kill('SIGTERM');
      assert.equal(await exited(mic.child), 0, mic.output());
    });
  });
});
