import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { before, describe, it } from 'node:test';
import { readNpy, writeNpy } from '../../runtime/io/npy.js';
import { readWav, writeWav } from '../helpers/keyword_audio.js';
import { installPackedPackage, userEnv, type InstalledPackage } from '../helpers/packed_package.js';
import { GOLDEN, ROOT } from '../helpers/paths.js';
import { tempDir } from '../helpers/tmp.js';

// The packed package on arm64, as on a Raspberry Pi: Debian's arm64 Node 20 under qemu-user runs
// the installed package's CLI, and its results must equal x64's: the golden conformance on the WASM
// tier and its logits bit for bit, and the demo's detections. The onnx backend is left out:
// onnxruntime's arm64 addon does not run under qemu-user (and the packed install does not include
// onnxruntime-node). Emulation is slow (about 15 s just to start the CLI here), so the inputs are small.

const QEMU = 'qemu-aarch64-static';
const qemu = spawnSync('sh', ['-c', `command -v ${QEMU}`], { encoding: 'utf8' }).stdout.trim();
/** Prepares Debian's arm64 Node 20 in ARM_ROOT (default /tmp/arm-root); beside the checkout, like the goldens. */
const PREPARE = [resolve(ROOT, '../shared/tools/arm64-node.sh'), '/work/shared/tools/arm64-node.sh'].find((p) => existsSync(p));
const ARM_ROOT = process.env.ARM_ROOT ?? '/tmp/arm-root';

interface Run { status: number | null; stdout: string; stderr: string }

describe('the packed package on arm64 (qemu-user)', { skip: qemu ? false : `${QEMU} not found (Debian package qemu-user-static)` }, () => {
  let pkg: InstalledPackage;
  const work = tempDir();
  const edgestream = (): string => join(pkg.packageDir, 'dist/cli/main.js');

  /** The installed CLI on this machine's Node (x64) or on the arm64 Node under qemu; asynchronous, so both can run at once. */
  const cli = (arch: 'x64' | 'arm64', args: string[]): Promise<Run> => new Promise((done) => {
    const [cmd, pre] = arch === 'arm64' ? [qemu, ['-L', ARM_ROOT, join(ARM_ROOT, 'usr/bin/node')]] : [process.execPath, []];
    const child = spawn(cmd, [...pre, edgestream(), ...args], { cwd: pkg.app, env: userEnv({ EDGESTREAM_LOG: 'silent' }) });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('exit', (status) => done({ status, stdout, stderr }));
  });
  const both = async (args: (arch: string) => string[]): Promise<{ x64: Run; arm64: Run }> => {
    const [x64, arm64] = await Promise.all([cli('x64', args('x64')), cli('arm64', args('arm64'))]);
    assert.equal(x64.status, 0, `x64: ${x64.stderr}`);
    assert.equal(arm64.status, 0, `arm64: ${arm64.stderr}`);
    return { x64, arm64 };
  };

  before(() => {
    assert.ok(PREPARE, 'shared/tools/arm64-node.sh not found beside the checkout');
    const prepared = spawnSync('bash', [PREPARE], { env: { ...process.env, ARM_ROOT }, encoding: 'utf8', timeout: 300_000 });
    assert.equal(prepared.status, 0, `arm64-node.sh: ${prepared.stdout}${prepared.stderr}`);
    pkg = installPackedPackage();
  });

  it('runs Node on arm64', () => {
    const r = spawnSync(qemu, ['-L', ARM_ROOT, join(ARM_ROOT, 'usr/bin/node'), '-p', 'process.arch + " " + process.versions.node.split(".")[0]'], { encoding: 'utf8' });
    assert.equal(r.stdout.trim(), 'arm64 20', r.stderr);
  });

  it('golden conformance (WASM tier) and predicted logits equal x64\'s bit for bit', { timeout: 600_000 }, async () => {
    const golden = join(GOLDEN, 'lmuformer');
    // One stream of 128 feature frames (the first of the demo fixture's five).
    const input = readNpy(readFileSync(join(ROOT, 'test/fixtures/kws-demo/input.npy')));
    const features = join(work, 'one-stream.npy');
    writeFileSync(features, writeNpy(input.data.subarray(0, input.shape[1]! * input.shape[2]!), input.shape.slice(1)));
    const model = join(pkg.packageDir, 'models/lmuformer/demo/kws35-spiking.safetensors');
    const [conformance, predict] = await Promise.all([
      both(() => ['conformance', golden, '--backend', 'wasm', '--json']),
      both((arch) => ['predict', model, '--features', features, '--out', join(work, `${arch}.npy`), '--backend', 'wasm']),
    ]);
    const results = (r: Run): unknown[] => r.stdout.trim().split('\n').map((l) => JSON.parse(l) as unknown);
    assert.equal(results(conformance.arm64).length, 4, conformance.arm64.stdout);
    assert.ok(results(conformance.arm64).every((r) => (r as { pass: boolean }).pass), conformance.arm64.stdout);
    assert.deepEqual(results(conformance.arm64), results(conformance.x64));
    assert.match(predict.arm64.stderr, /1 stream\(s\) × 128 frames on wasm/);
    const [x64, arm64] = ['x64', 'arm64'].map((arch) => readFileSync(join(work, `${arch}.npy`)));
    assert.ok(arm64!.equals(x64!), 'kws35-spiking logits on arm64 differ from x64 (WASM tier)');
  });

  it('the demo (npm start) detects the same keywords as on x64', { timeout: 600_000 }, async () => {
    // The first 9 s of the bundled sample (its two keywords end by 5.4 s), in real time: the demo
    // reports what arrived within 1.5 s of the end, and an emulated service on a busy machine lags.
    const sample = readWav(join(pkg.packageDir, 'models/lmuformer/demo/sample.wav'));
    const audio = join(work, 'sample-9s.wav');
    writeWav(audio, sample.samples.subarray(0, 9 * sample.rate), sample.rate);
    const { x64, arm64 } = await both(() => ['demo', '--audio', audio, '--json']);
    const detections = (r: Run): string[] => r.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => {
      const e = JSON.parse(l) as { label: string; score: number; start_ms: number; end_ms: number };
      return `${e.label} ${e.score} ${e.start_ms}-${e.end_ms}`;
    });
    assert.ok(detections(x64).length >= 2, x64.stdout);
    assert.deepEqual(detections(arm64), detections(x64));
  });
});
