import { Observable } from 'rxjs';
import { EdgestreamError } from '../errors.js';
import { readFileBytes } from '../io/files.js';
import { familyRegistrars } from '../model/family_registry.js';
import { loadModel, type LoadModelOptions } from '../model/load_model.js';
import { Model } from '../model/model.js';
import { decodeSnapshot } from '../stream/snapshot.js';
import { checkFrame } from '../stream/session.js';
import { moduleLogger } from '../log.js';
import { LocalHost, WorkerHost, type ShardHost } from './hosts.js';
import type { EngineOutput, EngineStats, ShardStats, StreamInfo, StreamSummary } from './types.js';

export interface EngineOptions extends LoadModelOptions {
  /** Worker threads that step the streams (each owns its streams and its own model instance). 0 = step in this thread, in short slices. Default 0. */
  workers?: number;
  /** Most streams advanced by one batched step. Default 64. */
  maxBatch?: number;
  /** Frames queued per stream; when full the oldest is dropped (and counted). Default 32. */
  queueFrames?: number;
  /** Longest stretch of stepping (ms) before a shard yields to its event loop. Default 5. */
  sliceMs?: number;
  /**
   * Classifier models: every stream's head averages over the last this-many frames instead of
   * everything since it opened (continuous keyword spotting; see `Model.createSession`). Default 0.
   */
  headWindow?: number;
}

const log = moduleLogger('engine');

const DEFAULTS = { workers: 0, maxBatch: 64, queueFrames: 32, sliceMs: 5 } as const;

type Listener<T> = (value: T) => void;

interface OpenStream {
  host: ShardHost;
  closing: boolean;
}

/**
 * Many streams of one model, stepped together: every turn, the streams that have a frame queued
 * advance as one batch (one matrix-matrix product per layer instead of one matrix-vector product
 * per stream). Streams join and leave at any time; each has a bounded input queue (drop-oldest);
 * with `workers > 0` streams are spread over worker threads, so inference never runs on the
 * caller's event loop.
 *
 *   const engine = await Engine.create('model.safetensors', { workers: 2 });
 *   engine.onOutput(({ stream, index, values }) => …);       // or engine.outputs('mic-1').subscribe(…)
 *   engine.open('mic-1');
 *   engine.push('mic-1', frame);                              // returns at once
 *   const { tail } = await engine.close('mic-1');             // the held-back outputs
 *
 * Every stream's outputs are exactly those of a lone `Session` fed the same frames (minus any
 * frames the queue dropped), in order. `snapshot(id)` returns bytes that `Session.restore` or
 * `engine.open(id, { snapshot })` (here or in another process) continue from.
 */
export class Engine {
  private readonly streams = new Map<string, OpenStream>();
  private readonly outputListeners = new Set<Listener<EngineOutput>>();
  private readonly errorListeners = new Set<Listener<unknown>>();
  private disposed = false;

  private constructor(
    private readonly hosts: ShardHost[],
    /** Values per input frame. */
    readonly inputDim: number,
    /** Values per output. */
    readonly outputDim: number,
    /** Bytes of recurrent state per stream. */
    readonly stateBytes: number,
    private readonly fingerprint: Uint8Array,
    private readonly stateSizes: { f32: number; f64: number },
    /** The backend the shards run on (e.g. `js`, `wasm`, `onnx`). */
    readonly backend: string,
  ) {}

  /**
   * Start an engine for a model (path or bytes; an already loaded `Model` only without workers).
   * Worker threads each load their own copy.
   */
  static async create(model: string | Uint8Array | Model, options: EngineOptions = {}): Promise<Engine> {
    const workers = options.workers ?? DEFAULTS.workers;
    const maxBatch = options.maxBatch ?? DEFAULTS.maxBatch;
    const queueFrames = options.queueFrames ?? DEFAULTS.queueFrames;
    const sliceMs = options.sliceMs ?? DEFAULTS.sliceMs;
    const headWindow = options.headWindow ?? 0;
    const int = (v: number, name: string, min: number, max: number): void => {
      if (!Number.isInteger(v) || v < min || v > max) throw new EdgestreamError('E_CONFIG', `${name} must be an integer from ${min} to ${max}, got ${v}`);
    };
    int(workers, 'workers', 0, 256);
    int(maxBatch, 'maxBatch', 1, 4096);
    int(queueFrames, 'queueFrames', 1, 1 << 20);
    int(headWindow, 'headWindow', 0, 1 << 20);
    if (!(sliceMs > 0)) throw new EdgestreamError('E_CONFIG', `sliceMs must be positive, got ${sliceMs}`);
    const load: LoadModelOptions = {
      ...(options.backend !== undefined && { backend: options.backend }),
      ...(options.int8 !== undefined && { int8: options.int8 }),
      ...(options.intraOpNumThreads !== undefined && { intraOpNumThreads: options.intraOpNumThreads }),
    };

    // Outputs go to `engine`'s listeners; the engine exists only once the hosts do.
    let engine: Engine | null = null;
    const emit = (stream: string, index: number, values: Float32Array): void => engine?.deliver({ stream, index, values });
    const onError = (e: unknown): void => engine?.fail(e);

    if (workers === 0) {
      const m = model instanceof Model ? model : await loadModel(model, load);
      const program = m.createProgram({ maxBatch, headWindow });
      const fingerprint = new Uint8Array(Buffer.from(m.fingerprint, 'hex'));
      const host = new LocalHost(program, fingerprint, queueFrames, sliceMs, emit, onError);
      engine = new Engine([host], program.inputDim, program.outputDim, m.stateBytes, fingerprint, { ...program.stateSizes }, m.backend);
      return engine;
    }
    if (model instanceof Model) {
      throw new EdgestreamError('E_CONFIG', 'an engine with workers loads the model in each worker: pass the model path or bytes, not a loaded Model');
    }
    const bytes = typeof model === 'string' ? readFileBytes(model) : model;
    const started = await Promise.allSettled(Array.from({ length: workers }, () => WorkerHost.start({ familyRegistrars: familyRegistrars(), model: bytes, load, maxBatch, headWindow, queueFrames, sliceMs }, emit, onError)));
    const failed = started.find((s) => s.status === 'rejected');
    if (failed) {
      await Promise.all(started.map((s) => (s.status === 'fulfilled' ? s.value.host.dispose() : undefined)));
      throw (failed as PromiseRejectedResult).reason;
    }
    const ok = started.map((s) => (s as PromiseFulfilledResult<Awaited<ReturnType<typeof WorkerHost.start>>>).value);
    const r = ok[0]!.ready;
    const stateBytes = r.stateSizes.f32 * 4 + r.stateSizes.f64 * 8;
    engine = new Engine(ok.map((o) => o.host), r.inputDim, r.outputDim, stateBytes, r.fingerprint, r.stateSizes, r.backend);
    return engine;
  }

  /** Ids of the open streams. */
  get openStreams(): string[] {
    return [...this.streams.keys()];
  }

  /** Start a stream (fresh, or continuing a session snapshot of this model). */
  open(id: string, options: { snapshot?: Uint8Array } = {}): void {
    this.alive();
    if (typeof id !== 'string' || id.length === 0) throw new EdgestreamError('E_SESSION_STATE', 'a stream id must be a non-empty string');
    if (this.streams.has(id)) throw new EdgestreamError('E_SESSION_STATE', `stream "${id}" is already open`);
    const snapshot = options.snapshot ?? null;
    if (snapshot) {
      // Checked here so that a bad snapshot fails the call, not a worker.
      const snap = decodeSnapshot(snapshot, this.fingerprint, this.stateSizes);
      if (snap.ended) throw new EdgestreamError('E_SNAPSHOT', 'the snapshot is of a stream that was already flushed; it cannot continue');
    }
    const host = this.hosts.reduce((a, b) => (b.assigned < a.assigned ? b : a));
    host.open(id, snapshot);
    host.assigned++;
    this.streams.set(id, { host, closing: false });
  }

  /**
   * Queue one frame for a stream; returns at once. Throws on a bad frame (wrong length, NaN) or
   * an unknown/closing stream; the stream itself is unaffected.
   */
  push(id: string, frame: ArrayLike<number>): void {
    const s = this.stream(id);
    if (s.closing) throw new EdgestreamError('E_SESSION_STATE', `stream "${id}" is closing`);
    const x = checkFrame(frame, this.inputDim, 0);
    s.host.push(id, x);
  }

  /** Finish a stream: step its queued frames, flush the held-back outputs, forget it. */
  async close(id: string): Promise<StreamSummary> {
    const s = this.stream(id);
    if (s.closing) throw new EdgestreamError('E_SESSION_STATE', `stream "${id}" is already closing`);
    s.closing = true;
    try {
      const r = await s.host.close(id);
      return { stream: id, framesIn: r.framesIn, framesOut: r.framesOut, dropped: r.dropped, tail: r.tail };
    } finally {
      this.streams.delete(id);
      s.host.assigned--;
    }
  }

  /** A session snapshot of the stream after the frames pushed so far. */
  async snapshot(id: string): Promise<Uint8Array> {
    return this.stream(id).host.snapshot(id);
  }

  /** Counters of one stream. */
  async info(id: string): Promise<StreamInfo> {
    return this.stream(id).host.info(id);
  }

  async stats(): Promise<EngineStats> {
    const perShard = await Promise.all(this.hosts.map((h) => h.stats()));
    const sum = (k: keyof Omit<ShardStats, 'batchSizes'>): number => perShard.reduce((a, s) => a + s[k], 0);
    const len = Math.max(...perShard.map((s) => s.batchSizes.length));
    const batchSizes = Array.from({ length: len }, (_, i) => perShard.reduce((a, s) => a + (s.batchSizes[i] ?? 0), 0));
    const steps = sum('steps');
    const framesStepped = sum('framesStepped');
    return {
      shards: this.hosts.length, streams: sum('streams'), framesIn: sum('framesIn'), dropped: sum('dropped'), framesStepped,
      outputs: sum('outputs'), steps, batchSizes, queued: sum('queued'), meanBatch: steps > 0 ? framesStepped / steps : 0, perShard,
    };
  }

  /** Listen to every output of every stream; returns the unsubscribe function. */
  onOutput(listener: Listener<EngineOutput>): () => void {
    this.outputListeners.add(listener);
    return () => this.outputListeners.delete(listener);
  }

  /** Listen to failures not tied to a call (a worker crashed, a step threw). */
  onError(listener: Listener<unknown>): () => void {
    this.errorListeners.add(listener);
    return () => this.errorListeners.delete(listener);
  }

  /** Outputs as an Observable (of one stream, or all); errors of the engine error it. */
  outputs(stream?: string): Observable<EngineOutput> {
    return new Observable<EngineOutput>((sub) => {
      const off = this.onOutput((o) => { if (stream === undefined || o.stream === stream) sub.next(o); });
      const offErr = this.onError((e) => sub.error(e));
      return () => { off(); offErr(); };
    });
  }

  /** Stop the workers. Open streams are dropped (close them first to get their tails). */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    this.streams.clear();
    await Promise.all(this.hosts.map((h) => h.dispose()));
  }

  private deliver(o: EngineOutput): void {
    for (const l of this.outputListeners) l(o);
  }

  private fail(e: unknown): void {
    if (this.errorListeners.size === 0) log.error({ err: e }, 'engine failure (no onError listener)');
    for (const l of this.errorListeners) l(e);
  }

  private alive(): void {
    if (this.disposed) throw new EdgestreamError('E_SESSION_STATE', 'the engine was disposed');
  }

  private stream(id: string): OpenStream {
    this.alive();
    const s = this.streams.get(id);
    if (!s) throw new EdgestreamError('E_SESSION_STATE', `no open stream "${id}"`);
    return s;
  }
}
