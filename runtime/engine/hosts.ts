import { Worker } from 'node:worker_threads';
import { EdgestreamError, type ErrorCode } from '../errors.js';
import type { StreamProgram } from '../stream/program.js';
import type { FromWorker, ToWorker, WireError, WorkerInit } from './messages.js';
import { Shard } from './shard.js';
import type { ShardStats, StreamInfo } from './types.js';

export interface CloseResult {
  framesIn: number;
  framesOut: number;
  dropped: number;
  tail: Float32Array[];
}

export type Emit = (stream: string, index: number, values: Float32Array) => void;

/** Where a shard runs: the engine talks to every shard through this, in-thread or in a worker. */
export interface ShardHost {
  /** Streams assigned to this shard. */
  assigned: number;
  open(id: string, snapshot: Uint8Array | null): void;
  push(id: string, frame: Float32Array): void;
  close(id: string): Promise<CloseResult>;
  snapshot(id: string): Promise<Uint8Array>;
  info(id: string): Promise<StreamInfo>;
  stats(): Promise<ShardStats>;
  dispose(): Promise<void>;
}

/**
 * A shard in the engine's own thread, stepped in `setImmediate` slices of at most `sliceMs`
 * so that the event loop keeps turning between batches.
 */
export class LocalHost implements ShardHost {
  assigned = 0;
  private readonly shard: Shard;
  private scheduled = false;
  private disposed = false;

  constructor(program: StreamProgram, fingerprint: Uint8Array, queueFrames: number, private readonly sliceMs: number, emit: Emit, private readonly onError: (e: unknown) => void) {
    this.shard = new Shard(program, fingerprint, { queueFrames, emit });
  }

  open(id: string, snapshot: Uint8Array | null): void {
    this.shard.open(id, snapshot);
  }

  push(id: string, frame: Float32Array): void {
    this.shard.push(id, frame);
    this.schedule();
  }

  async close(id: string): Promise<CloseResult> { return this.shard.close(id); }
  async snapshot(id: string): Promise<Uint8Array> { return this.shard.snapshot(id); }
  async info(id: string): Promise<StreamInfo> { return this.shard.info(id); }
  async stats(): Promise<ShardStats> { return this.shard.stats(); }
  async dispose(): Promise<void> { this.disposed = true; }

  private schedule(): void {
    if (this.scheduled || this.disposed) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      if (this.disposed) return;
      const until = performance.now() + this.sliceMs;
      try {
        while (this.shard.hasWork() && performance.now() < until) this.shard.runBatch();
      } catch (e) {
        this.onError(e);
      }
      if (this.shard.hasWork()) this.schedule();
    });
  }
}

export interface WorkerReady {
  inputDim: number;
  outputDim: number;
  stateSizes: { f32: number; f64: number };
  fingerprint: Uint8Array;
  maxBatch: number;
  backend: string;
}

function fromWire(e: WireError): EdgestreamError {
  return new EdgestreamError((e.code ?? 'E_BACKEND') as ErrorCode, e.message);
}

/**
 * A shard in a worker thread. Frames pushed in one turn of the event loop travel in one message
 * (packed into one transferred buffer); requests are answered in order after the frames sent
 * before them, so `close` sees every frame pushed before it.
 */
export class WorkerHost implements ShardHost {
  assigned = 0;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: unknown) => void }>();
  private nextReq = 1;
  private outIds: string[] = [];
  private outFrames: Float32Array[] = [];
  private flushQueued = false;
  private dead: EdgestreamError | null = null;

  private constructor(private readonly worker: Worker, private readonly inputDim: number) {}

  static async start(init: WorkerInit, emit: Emit, onError: (e: unknown) => void): Promise<{ host: WorkerHost; ready: WorkerReady }> {
    const here = import.meta.url;
    let worker: Worker;
    if (here.endsWith('.ts')) {
      // Running from TypeScript sources (tests through tsx): the worker registers tsx first.
      const entry = JSON.stringify(new URL('./shard_worker.ts', here).href);
      worker = new Worker(`import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${entry}); })`, { eval: true, workerData: init });
    } else {
      worker = new Worker(new URL('./shard_worker.js', here), { workerData: init });
    }
    const ready = await new Promise<WorkerReady>((resolve, reject) => {
      const onMessage = (m: FromWorker): void => {
        if (m.t === 'ready') resolve(m);
        else if (m.t === 'failed') reject(fromWire(m.error));
      };
      worker.once('message', onMessage);
      worker.once('error', (e) => reject(new EdgestreamError('E_BACKEND', `engine worker failed to start: ${e.message}`, undefined, { cause: e })));
    });
    const host = new WorkerHost(worker, ready.inputDim);
    const K = ready.outputDim;
    worker.on('message', (m: FromWorker) => {
      if (m.t === 'outputs') {
        for (let i = 0; i < m.ids.length; i++) emit(m.ids[i]!, m.indices[i]!, m.values.slice(i * K, (i + 1) * K));
      } else if (m.t === 'reply') {
        const p = host.pending.get(m.req);
        host.pending.delete(m.req);
        if (m.error) p?.reject(fromWire(m.error));
        else p?.resolve(m.value);
      } else if (m.t === 'error') {
        onError(fromWire(m.error));
      }
    });
    const fail = (e: EdgestreamError): void => {
      host.dead = e;
      for (const p of host.pending.values()) p.reject(e);
      host.pending.clear();
      onError(e);
    };
    worker.on('error', (e) => fail(new EdgestreamError('E_BACKEND', `engine worker crashed: ${e.message}`, undefined, { cause: e })));
    worker.on('exit', (code) => { if (!host.dead) fail(new EdgestreamError('E_BACKEND', `engine worker exited (code ${code})`)); });
    return { host, ready };
  }

  open(id: string, snapshot: Uint8Array | null): void {
    this.send({ t: 'open', id, snapshot });
  }

  push(id: string, frame: Float32Array): void {
    this.outIds.push(id);
    this.outFrames.push(Float32Array.from(frame)); // the caller may reuse its buffer before the flush
    if (!this.flushQueued) {
      this.flushQueued = true;
      queueMicrotask(() => this.flushFrames());
    }
  }

  close(id: string): Promise<CloseResult> { return this.request({ t: 'close', id }) as Promise<CloseResult>; }
  snapshot(id: string): Promise<Uint8Array> { return this.request({ t: 'snapshot', id }) as Promise<Uint8Array>; }
  info(id: string): Promise<StreamInfo> { return this.request({ t: 'info', id }) as Promise<StreamInfo>; }
  stats(): Promise<ShardStats> { return this.request({ t: 'stats' }) as Promise<ShardStats>; }

  async dispose(): Promise<void> {
    this.dead ??= new EdgestreamError('E_SESSION_STATE', 'the engine was disposed');
    await this.worker.terminate();
  }

  private flushFrames(): void {
    this.flushQueued = false;
    const n = this.outIds.length;
    if (n === 0 || this.dead) return;
    const F = this.inputDim;
    const data = new Float32Array(n * F);
    this.outFrames.forEach((f, i) => data.set(f, i * F));
    this.worker.postMessage({ t: 'frames', ids: this.outIds, data } satisfies ToWorker, [data.buffer]);
    this.outIds = [];
    this.outFrames = [];
  }

  private send(m: ToWorker): void {
    if (this.dead) throw this.dead;
    this.flushFrames();
    this.worker.postMessage(m);
  }

  private request(m: { t: 'close' | 'snapshot' | 'info'; id: string } | { t: 'stats' }): Promise<unknown> {
    if (this.dead) return Promise.reject(this.dead);
    const req = this.nextReq++;
    return new Promise((resolve, reject) => {
      this.pending.set(req, { resolve, reject });
      this.send({ ...m, req } as ToWorker);
    });
  }
}
