import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { unzipSync } from 'fflate';
import { parameterSpec, type LmuformerConfig } from '../../models/lmuformer/variants.js';
import { readFileBytes } from '../../runtime/io/files.js';
import { DEMO_MODEL } from '../helpers/hostile_files.js';
import { CLI, GOLDEN, ROOT } from '../helpers/paths.js';
import { tempDir } from '../helpers/tmp.js';
import { deflatedZeros, torchCheckpoint, zipArchive, type PickledTensor } from '../helpers/torch_zip.js';
import { wavBytes } from '../helpers/wav_bytes.js';

/**
 * "A hostile file costs at most a small constant plus its own size in memory" (issue 13): the
 * real command line runs in a child process and reports its peak RSS (Linux /proc); the bound is the peak of the
 * same command on a small valid input + 3 × the hostile file + 100 MB. A memory bound, not timing.
 */
// VmHWM (the peak RSS of this process image): getrusage's maxRSS would carry over the parent's
// peak across fork + exec on Linux.
const REPORT_RSS = 'data:text/javascript,import{readFileSync}from"node:fs";process.on("exit",()=>process.stderr.write("maxrss_kb="+/VmHWM:\\s*(\\d+)/.exec(readFileSync("/proc/self/status","utf8"))[1]+"\\n"))';
const dir = tempDir();

function peak(args: string[]): { status: number; stderr: string; bytes: number } {
  const r = spawnSync(process.execPath, ['--import', REPORT_RSS, CLI, ...args], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, EDGESTREAM_LOG: 'silent' }, timeout: 120_000 });
  const m = /maxrss_kb=(\d+)/.exec(r.stderr);
  assert.ok(m, `no RSS report: ${r.stderr}`);
  return { status: r.status ?? -1, stderr: r.stderr, bytes: Number(m[1]) * 1024 };
}

function checkBound(name: string, hostile: { bytes: number }, baseline: { bytes: number }, fileBytes: number): void {
  const limit = baseline.bytes + 3 * fileBytes + 100e6;
  const mb = (n: number): string => `${(n / 1e6).toFixed(0)} MB`;
  // Printed so that the README can quote the numbers (`npm test -- hostile_memory`).
  process.stdout.write(`# ${name}: peak RSS ${mb(hostile.bytes)} (valid input ${mb(baseline.bytes)}, file ${mb(fileBytes)}, limit ${mb(limit)})\n`);
  assert.ok(hostile.bytes < limit, `${name}: peak RSS ${mb(hostile.bytes)} ≥ ${mb(limit)}`);
}

const write = (name: string, bytes: Uint8Array): string => {
  const p = join(dir, name);
  writeFileSync(p, bytes);
  return p;
};

describe('hostile files cost at most a small constant plus their own size (peak RSS of the CLI)', () => {
  it('a 59 MB safetensors header of a million empty tensors (row 9)', () => {
    const parts = ['{"__metadata__":{"format":"edgestream"}'];
    for (let i = 0; i < 1_000_000; i++) parts.push(`,"tensor_${i}":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}`);
    const json = new TextEncoder().encode(`${parts.join('')}}`);
    const bytes = new Uint8Array(8 + json.length);
    new DataView(bytes.buffer).setBigUint64(0, BigInt(json.length), true);
    bytes.set(json, 8);
    const file = write('million.safetensors', bytes);
    const baseline = peak(['inspect', DEMO_MODEL]);
    const r = peak(['inspect', file]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /E_MODEL_FORMAT/);
    checkBound('million empty tensors', r, baseline, bytes.length);
  });

  it('a header of 16,000 tensors with long names, just inside the limits (row 9)', () => {
    const parts = ['{"__metadata__":{"format":"edgestream"}'];
    for (let i = 0; i < 16_000; i++) parts.push(`,"${'n'.repeat(400)}${i}":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}`);
    const json = new TextEncoder().encode(`${parts.join('')}}`);
    const bytes = new Uint8Array(8 + json.length);
    new DataView(bytes.buffer).setBigUint64(0, BigInt(json.length), true);
    bytes.set(json, 8);
    const file = write('long-names.safetensors', bytes);
    const r = peak(['inspect', file]);
    assert.equal(r.status, 2);
    checkBound('16,000 long-named tensors', r, peak(['inspect', DEMO_MODEL]), bytes.length);
  });

  const pth = readFileBytes(join(GOLDEN, 'lmuformer', 'lmu_rnn_conv1d-d64', 'model.pth'));
  const baselineImport = () => peak(['import', write('clean.pth', pth), '--arch', 'auto', '-o', join(dir, 'clean.safetensors')]);

  it('a checkpoint with a 1 GiB zip-bomb entry imports within the bound (row 7)', () => {
    const entries = Object.entries(unzipSync(pth)).map(([name, data]) => ({ name, data }));
    const bytes = zipArchive([...entries, { name: 'archive/data/bomb', data: deflatedZeros(1024), method: 8, size: 1 << 30, crc: 0 }]);
    const r = peak(['import', write('bomb.pth', bytes), '--arch', 'auto', '-o', join(dir, 'bomb.safetensors')]);
    assert.equal(r.status, 0, r.stderr);
    checkBound('zip bomb', r, baselineImport(), bytes.length);
  });

  it('stride-0 tensors of a dim-2048 model over one float are refused within the bound (row 8)', () => {
    const config: LmuformerConfig = { dim: 2048, depths: 1, mlpHidden: 8192, mels: 128, classes: 35, memory: 2048 };
    const tensors: PickledTensor[] = [...parameterSpec('lmu_rnn_conv1d', config)].map(([name, shape]) => ({ name, storage: '0', storageNumel: 1, size: [...shape], stride: shape.map(() => 0) }));
    const bytes = torchCheckpoint(tensors, new Map([['0', new Uint8Array(4)]]));
    const r = peak(['import', write('stride0.pth', bytes), '--arch', 'auto', '-o', join(dir, 'stride0.safetensors')]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /E_CHECKPOINT: .*overlap/);
    checkBound('stride-0 tensors', r, baselineImport(), bytes.length);
  });

  it('a WAV declaring 1 Hz (row 6)', () => {
    const bytes = wavBytes(new Uint8Array(20_000), { sampleRate: 1 });
    const r = peak(['classify', DEMO_MODEL, write('1hz.wav', bytes)]);
    assert.equal(r.status, 2);
    checkBound('1 Hz WAV', r, peak(['classify', DEMO_MODEL, join(ROOT, 'models/lmuformer/demo/sample.wav')]), bytes.length);
  });
});
