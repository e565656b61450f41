import { EdgestreamError } from '../errors.js';
import type { Engine } from './engine.js';

/** Receives one stream's outputs, in order (`index` counts that stream's outputs from 0). */
export type StreamOutputHandler = (index: number, values: Float32Array) => void;

/**
 * One engine shared by many independent consumers: each opens its streams with its own output
 * handler, and outputs are dispatched by stream id (one engine listener, a map lookup per output,
 * instead of every consumer filtering every output). Engine failures go to `onError` handlers.
 */
export class EngineStreamRouter {
  private readonly handlers = new Map<string, StreamOutputHandler>();
  private readonly errorHandlers = new Set<(e: unknown) => void>();
  private readonly offOutput: () => void;
  private readonly offError: () => void;

  constructor(readonly engine: Engine) {
    this.offOutput = engine.onOutput((o) => this.handlers.get(o.stream)?.(o.index, o.values));
    this.offError = engine.onError((e) => {
      for (const h of this.errorHandlers) h(e);
    });
  }

  /** Values per input frame / per output of the engine's model. */
  get inputDim(): number { return this.engine.inputDim; }
  get outputDim(): number { return this.engine.outputDim; }

  open(id: string, handler: StreamOutputHandler): void {
    if (this.handlers.has(id)) throw new EdgestreamError('E_SESSION_STATE', `stream "${id}" is already open on this router`);
    this.engine.open(id);
    this.handlers.set(id, handler);
  }

  push(id: string, frame: ArrayLike<number>): void {
    this.engine.push(id, frame);
  }

  /** Step what is queued, deliver the remaining outputs (including the flush tail), forget the stream. */
  async close(id: string): Promise<void> {
    try {
      await this.engine.close(id);
    } finally {
      this.handlers.delete(id);
    }
  }

  onError(handler: (e: unknown) => void): () => void {
    this.errorHandlers.add(handler);
    return () => this.errorHandlers.delete(handler);
  }

  /** Detach from the engine (the engine itself is not disposed). */
  detach(): void {
    this.offOutput();
    this.offError();
    this.handlers.clear();
  }
}
