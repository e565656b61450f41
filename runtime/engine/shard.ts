import { EdgestreamError } from '../errors.js';
import type { StreamProgram } from '../stream/program.js';
import { decodeSnapshot, encodeSnapshot } from '../stream/snapshot.js';
import { createState, type StreamState } from '../stream/state.js';
import { FrameQueue } from './frame_queue.js';
import type { ShardStats, StreamInfo } from './types.js';

interface Stream {
  readonly id: string;
  state: StreamState;
  readonly queue: FrameQueue;
  framesIn: number;
  framesOut: number;
}

export interface ShardOptions {
  /** Frames held per stream before the oldest is dropped. */
  queueFrames: number;
  /** Called for every output, synchronously, in stream order. */
  emit: (stream: string, index: number, values: Float32Array) => void;
}

/**
 * Many streams of one model on one batched program, in one thread. `runBatch` steps up to
 * `maxBatch` streams that have a frame queued as one `step` (matrix-matrix), round-robin so
 * that no stream starves when more are ready than fit in a batch. The engine runs shards in the
 * main thread or one per worker; a shard itself never schedules anything.
 *
 * Buffers are allocated when a stream opens and once per shard; stepping allocates only the
 * output arrays handed to `emit`.
 */
export class Shard {
  private readonly streams = new Map<string, Stream>();
  private readonly order: Stream[] = [];
  private cursor = 0;
  private readonly input: Float32Array;
  private readonly out: Float32Array;
  private readonly ready: Uint8Array;
  private readonly batch: Stream[] = [];
  private readonly states: StreamState[] = [];
  private readonly counters = { framesIn: 0, dropped: 0, framesStepped: 0, outputs: 0, steps: 0 };
  private readonly batchSizes: number[];

  constructor(private readonly program: StreamProgram, private readonly fingerprint: Uint8Array, private readonly options: ShardOptions) {
    if (!(Number.isInteger(options.queueFrames) && options.queueFrames >= 1)) {
      throw new EdgestreamError('E_CONFIG', `queueFrames must be a positive integer, got ${options.queueFrames}`);
    }
    this.input = new Float32Array(program.maxBatch * program.inputDim);
    this.out = new Float32Array(program.maxBatch * program.outputDim);
    this.ready = new Uint8Array(program.maxBatch);
    this.batchSizes = new Array<number>(program.maxBatch + 1).fill(0);
  }

  get size(): number {
    return this.streams.size;
  }

  has(id: string): boolean {
    return this.streams.has(id);
  }

  /** Start a stream, fresh or from a session snapshot (of this model). */
  open(id: string, snapshot: Uint8Array | null = null): void {
    if (this.streams.has(id)) throw new EdgestreamError('E_SESSION_STATE', `stream "${id}" is already open`);
    const s: Stream = { id, state: createState(this.program.stateSizes), queue: new FrameQueue(this.options.queueFrames, this.program.inputDim), framesIn: 0, framesOut: 0 };
    if (snapshot) {
      const snap = decodeSnapshot(snapshot, this.fingerprint, this.program.stateSizes);
      if (snap.ended) throw new EdgestreamError('E_SNAPSHOT', 'the snapshot is of a stream that was already flushed; it cannot continue');
      s.state = snap.state;
      s.framesIn = snap.framesIn;
      s.framesOut = snap.framesOut;
    }
    this.streams.set(id, s);
    this.order.push(s);
  }

  /** Queue a frame (already validated). Returns false if the stream is unknown. */
  push(id: string, frame: ArrayLike<number>): boolean {
    const s = this.streams.get(id);
    if (!s) return false;
    if (s.queue.push(frame)) this.counters.dropped++;
    this.counters.framesIn++;
    return true;
  }

  /** True if some stream has a frame queued. */
  hasWork(): boolean {
    for (const s of this.order) if (s.queue.length > 0) return true;
    return false;
  }

  /** One batched step over up to maxBatch streams with a frame queued; returns how many. */
  runBatch(): number {
    const { program, batch, states } = this;
    const n = this.order.length;
    const F = program.inputDim;
    const K = program.outputDim;
    batch.length = 0;
    for (let k = 0; k < n && batch.length < program.maxBatch; k++) {
      const s = this.order[(this.cursor + k) % n]!;
      if (s.queue.length === 0) continue;
      s.queue.shiftInto(this.input, batch.length * F);
      batch.push(s);
    }
    if (n > 0) this.cursor = (this.cursor + 1) % n;
    const rows = batch.length;
    if (rows === 0) return 0;
    states.length = rows;
    for (let r = 0; r < rows; r++) states[r] = batch[r]!.state;
    program.step(states, rows, this.input, this.out, this.ready);
    this.counters.steps++;
    this.counters.framesStepped += rows;
    this.batchSizes[rows]!++;
    for (let r = 0; r < rows; r++) {
      const s = batch[r]!;
      s.framesIn++;
      if (this.ready[r]) this.deliver(s, this.out.subarray(r * K, (r + 1) * K));
    }
    return rows;
  }

  /** Step until stream `id` has nothing queued (other streams advance too). */
  drain(id: string): void {
    const s = this.need(id);
    while (s.queue.length > 0) this.runBatch();
  }

  /** Drain, flush and remove a stream; its tail outputs are emitted and returned. */
  close(id: string): { framesIn: number; framesOut: number; dropped: number; tail: Float32Array[] } {
    this.drain(id);
    const s = this.need(id);
    const tail = s.framesIn > 0 ? this.program.flush(s.state) : [];
    for (const o of tail) this.deliver(s, o);
    this.streams.delete(id);
    const i = this.order.indexOf(s);
    this.order.splice(i, 1);
    if (this.cursor > i) this.cursor--;
    if (this.cursor >= this.order.length) this.cursor = 0;
    return { framesIn: s.framesIn, framesOut: s.framesOut, dropped: s.queue.dropped, tail };
  }

  /** A session snapshot of the stream after its queued frames (restorable by `Session` too). */
  snapshot(id: string): Uint8Array {
    this.drain(id);
    const s = this.need(id);
    return encodeSnapshot({ fingerprint: this.fingerprint, state: s.state, ended: false, framesIn: s.framesIn, framesOut: s.framesOut });
  }

  info(id: string): StreamInfo {
    const s = this.need(id);
    return { stream: id, framesIn: s.framesIn, framesOut: s.framesOut, dropped: s.queue.dropped, queued: s.queue.length };
  }

  stats(): ShardStats {
    let queued = 0;
    for (const s of this.order) queued += s.queue.length;
    return { streams: this.streams.size, ...this.counters, batchSizes: [...this.batchSizes], queued };
  }

  private deliver(s: Stream, values: Float32Array): void {
    this.counters.outputs++;
    this.options.emit(s.id, s.framesOut++, Float32Array.from(values));
  }

  private need(id: string): Stream {
    const s = this.streams.get(id);
    if (!s) throw new EdgestreamError('E_SESSION_STATE', `no open stream "${id}"`);
    return s;
  }
}
