/** One output of one stream, in stream order (`index` counts the stream's outputs from 0). */
export interface EngineOutput {
  stream: string;
  index: number;
  values: Float32Array;
}

/** Counters of one shard (one program instance, in the main thread or a worker). */
export interface ShardStats {
  streams: number;
  /** Frames accepted into queues. */
  framesIn: number;
  /** Frames discarded by the drop-oldest policy. */
  dropped: number;
  /** Frames stepped through the model. */
  framesStepped: number;
  outputs: number;
  /** Batched `step` calls. */
  steps: number;
  /** `batchSizes[n]` = steps that advanced n streams at once. */
  batchSizes: number[];
  /** Frames waiting in queues now. */
  queued: number;
}

export interface EngineStats extends ShardStats {
  shards: number;
  /** framesStepped / steps. */
  meanBatch: number;
  perShard: ShardStats[];
}

/** Figures of a stream when it is closed. */
export interface StreamSummary {
  stream: string;
  framesIn: number;
  framesOut: number;
  dropped: number;
  /** The outputs its flush produced (also delivered to output listeners). */
  tail: Float32Array[];
}

export interface StreamInfo {
  stream: string;
  framesIn: number;
  framesOut: number;
  dropped: number;
  queued: number;
}
