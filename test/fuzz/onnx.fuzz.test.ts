import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { randomLmuformerModel } from '../../models/lmuformer/random_model.js';
import { loadOnnxModel } from '../../runtime/onnx/backend.js';
import { exportStepModel } from '../../runtime/onnx/exporters.js';
import { onnx } from '../../runtime/onnx/proto.js';
import { checkAsync, mutated, outcome, outcomeAsync, TEST_TIMEOUT } from './fuzz.js';

/**
 * Fuzzing the ONNX backend's loader: any bytes given as a `.onnx` model give a model or
 * E_ONNX_MODEL (E_MODEL_FORMAT for bad front-end metadata, E_BACKEND if onnxruntime is missing),
 * never another exception; a model that loads steps a frame, or fails with E_BACKEND /
 * E_NONFINITE_OUTPUT.
 */
const LOAD_CODES = ['E_ONNX_MODEL', 'E_MODEL_FORMAT', 'E_BACKEND'] as const;
const tiny = randomLmuformerModel({ variant: 'lmu_rnn_conv1d', dim: 4, mels: 8, classes: 3, seed: 11 }).bytes;
const graph = exportStepModel(tiny);

async function loadAndStep(bytes: Uint8Array): Promise<void> {
  const r = await outcomeAsync([...LOAD_CODES], () => loadOnnxModel(bytes, { what: 'fuzz.onnx' }));
  if (!r.ok) return;
  const m = r.value;
  assert.ok(m.inputDim >= 1 && m.outputDim >= 1);
  const s = m.createSession();
  const step = outcome(['E_BACKEND', 'E_NONFINITE_OUTPUT'], () => { s.push(new Float32Array(m.inputDim).fill(0.1)); return s.flush(); });
  if (step.ok) for (const o of step.value) assert.equal(o.length, m.outputDim);
}

/** Edit the decoded ModelProto (dims, names, metadata), then encode it again. */
const protoEdit = fc.record({
  tensor: fc.constantFrom('input', 'output'),
  index: fc.nat({ max: 5 }),
  dim: fc.nat({ max: 1 }),
  value: fc.oneof(fc.integer({ min: -2, max: 16 }), fc.constantFrom(2 ** 20, 2 ** 31, 2 ** 40, 2 ** 53)),
  rename: fc.option(fc.constantFrom('frame', 'state', 'end', 'output', 'ready', 'state_out', 'x', ''), { nil: undefined }),
  meta: fc.option(fc.tuple(fc.constantFrom('edgestream.delay', 'edgestream.labels', 'edgestream.frontend', 'edgestream.source', 'edgestream.step_convention'),
    fc.oneof(fc.string({ maxLength: 12 }), fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v)), fc.constantFrom('1e9', '-1', '10001', '[]', '{"kind":"kaldi-fbank"}'))), { nil: undefined }),
}).map((e) => {
  const m = onnx.ModelProto.decode(graph);
  const list = e.tensor === 'input' ? m.graph!.input! : m.graph!.output!;
  const v = list[e.index % list.length]!;
  const dims = v.type?.tensorType?.shape?.dim ?? [];
  if (dims[e.dim]) { dims[e.dim]!.dimValue = e.value; dims[e.dim]!.dimParam = ''; }
  if (e.rename !== undefined) v.name = e.rename;
  if (e.meta) {
    const props = (m.metadataProps ??= []);
    const p = props.find((x) => x.key === e.meta![0]);
    if (p) p.value = e.meta[1]; else props.push({ key: e.meta[0], value: e.meta[1] });
  }
  return onnx.ModelProto.encode(m).finish();
});

describe('fuzz: ONNX model loading (onnx backend)', { timeout: TEST_TIMEOUT }, () => {
  it('arbitrary bytes and protobuf-looking bytes', async () => {
    await checkAsync(fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), loadAndStep), 300);
  });

  it('byte mutations of a valid step graph', async () => {
    await checkAsync(fc.asyncProperty(mutated(graph), loadAndStep), 150);
  });

  it('dims, names and metadata of a valid step graph that lie', async () => {
    await checkAsync(fc.asyncProperty(protoEdit, loadAndStep), 200);
  });
});
