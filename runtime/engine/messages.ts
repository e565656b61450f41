import type { LoadModelOptions } from '../model/load_model.js';

/** The engine ↔ shard-worker protocol (structured clone over the worker's port). */
export interface WorkerInit {
  /** Modules that register model families in the starting thread; the worker imports them first. */
  familyRegistrars: string[];
  model: Uint8Array;
  load: LoadModelOptions;
  maxBatch: number;
  /** Classifier head over the last this-many frames (0 = the official cumulative mean). */
  headWindow: number;
  queueFrames: number;
  /** Longest stretch (ms) of stepping before the worker reads its messages again. */
  sliceMs: number;
}

export type ToWorker =
  | { t: 'open'; id: string; snapshot: Uint8Array | null }
  /** Frames for several streams: `data` holds `ids.length` frames back to back. */
  | { t: 'frames'; ids: string[]; data: Float32Array }
  | { t: 'close'; id: string; req: number }
  | { t: 'snapshot'; id: string; req: number }
  | { t: 'stats'; req: number }
  | { t: 'info'; id: string; req: number };

export interface WireError {
  code: string | null;
  message: string;
}

export type FromWorker =
  | { t: 'ready'; inputDim: number; outputDim: number; stateSizes: { f32: number; f64: number }; fingerprint: Uint8Array; maxBatch: number; backend: string }
  | { t: 'failed'; error: WireError }
  /** Outputs in emission order: `values` holds `ids.length` outputs of outputDim back to back. */
  | { t: 'outputs'; ids: string[]; indices: number[]; values: Float32Array }
  | { t: 'reply'; req: number; value?: unknown; error?: WireError }
  /** A failure not tied to a request (a step threw): the streams involved are named. */
  | { t: 'error'; error: WireError };
