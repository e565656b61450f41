import { parentPort, workerData } from 'node:worker_threads';
import { EdgestreamError, isEdgestreamError } from '../errors.js';
import { loadModel } from '../model/load_model.js';
import type { FromWorker, ToWorker, WireError, WorkerInit } from './messages.js';
import { Shard } from './shard.js';

/**
 * A shard in a worker thread: loads its own copy of the model (its own kernels or onnxruntime
 * session), owns the streams the engine assigns to it, and steps them in slices of at most
 * `sliceMs`, reading its messages in between, so queues see new frames (and drop the oldest)
 * while the model is busy. Outputs are posted once per slice, always before any reply that
 * follows them.
 */
const port = parentPort!;
const init = workerData as WorkerInit;

function wire(e: unknown): WireError {
  return { code: isEdgestreamError(e) ? e.code : null, message: e instanceof Error ? e.message : String(e) };
}

const post = (m: FromWorker, transfer: ArrayBuffer[] = []): void => port.postMessage(m, transfer);

try {
  // A thread starts with empty module state: register the families its starter had.
  for (const registrar of init.familyRegistrars) await import(registrar);
  const model = await loadModel(init.model, init.load);
  const program = model.createProgram({ maxBatch: init.maxBatch, headWindow: init.headWindow });
  const fingerprint = new Uint8Array(Buffer.from(model.fingerprint, 'hex'));
  const K = program.outputDim;
  let outIds: string[] = [];
  let outIndices: number[] = [];
  let outValues: Float32Array[] = [];
  const shard = new Shard(program, fingerprint, {
    queueFrames: init.queueFrames,
    emit: (id, index, values) => { outIds.push(id); outIndices.push(index); outValues.push(values); },
  });
  const flushOutputs = (): void => {
    if (outIds.length === 0) return;
    const values = new Float32Array(outIds.length * K);
    outValues.forEach((v, i) => values.set(v, i * K));
    post({ t: 'outputs', ids: outIds, indices: outIndices, values }, [values.buffer]);
    outIds = [];
    outIndices = [];
    outValues = [];
  };

  let scheduled = false;
  const slice = (): void => {
    scheduled = false;
    const until = performance.now() + init.sliceMs;
    try {
      while (shard.hasWork() && performance.now() < until) shard.runBatch();
    } catch (e) {
      post({ t: 'error', error: wire(e) });
    }
    flushOutputs();
    if (shard.hasWork()) schedule();
  };
  const schedule = (): void => {
    if (!scheduled) {
      scheduled = true;
      setImmediate(slice);
    }
  };

  port.on('message', (m: ToWorker) => {
    const reply = (req: number, fn: () => unknown): void => {
      let value: unknown;
      try {
        value = fn();
      } catch (e) {
        flushOutputs();
        post({ t: 'reply', req, error: wire(e) });
        return;
      }
      flushOutputs();
      post({ t: 'reply', req, value });
    };
    switch (m.t) {
      case 'open':
        try { shard.open(m.id, m.snapshot); } catch (e) { post({ t: 'error', error: wire(e) }); }
        break;
      case 'frames': {
        const F = program.inputDim;
        for (let i = 0; i < m.ids.length; i++) shard.push(m.ids[i]!, m.data.subarray(i * F, (i + 1) * F));
        schedule();
        break;
      }
      case 'close': reply(m.req, () => ({ ...shard.close(m.id) })); break;
      case 'snapshot': reply(m.req, () => shard.snapshot(m.id)); break;
      case 'stats': reply(m.req, () => shard.stats()); break;
      case 'info': reply(m.req, () => shard.info(m.id)); break;
      default: post({ t: 'error', error: wire(new EdgestreamError('E_CONFIG', `unknown engine message ${(m as { t: string }).t}`)) });
    }
  });
  post({ t: 'ready', inputDim: program.inputDim, outputDim: K, stateSizes: { ...program.stateSizes }, fingerprint, maxBatch: program.maxBatch, backend: model.backend });
} catch (e) {
  post({ t: 'failed', error: wire(e) });
}
