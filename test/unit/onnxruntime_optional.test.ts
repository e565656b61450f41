import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isEdgestreamError } from '../../runtime/errors.js';
import { loadOnnxruntime } from '../../runtime/onnx/ort.js';
import { ONNXRUNTIME_PACKAGE, onnxruntimeVersion } from '../../runtime/onnx/version.js';

// onnxruntime-node is an optional peer dependency (docs/installing.md): the onnx backend
// loads it on first use, and its absence is an E_BACKEND error that says how to add it.
describe('onnxruntime-node, loaded on first use', () => {
  it('an absent package is E_BACKEND naming the package and the install command', () => {
    assert.throws(() => loadOnnxruntime('onnxruntime-node-absent'), (e: unknown) =>
      isEdgestreamError(e) && e.code === 'E_BACKEND'
      && /the onnx backend needs the npm package onnxruntime-node-absent, which is not installed/.test(e.message)
      && /npm install onnxruntime-node-absent --onnxruntime-node-install=skip/.test(e.message));
  });

  it('the installed package loads (a development dependency here) and reports its version', () => {
    const ort = loadOnnxruntime();
    assert.equal(typeof ort.Tensor, 'function');
    assert.equal(typeof ort.binding.initOrt, 'function');
    assert.match(onnxruntimeVersion() ?? '', /^\d+\.\d+\.\d+/);
    assert.equal(ONNXRUNTIME_PACKAGE, 'onnxruntime-node');
  });
});
