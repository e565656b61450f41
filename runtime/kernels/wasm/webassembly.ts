/**
 * The few WebAssembly JS-API types the kernel glue needs. TypeScript declares `WebAssembly` only
 * in its DOM library, which this Node package does not load; typing the global here keeps the
 * public declarations free of DOM types.
 */
export interface WasmMemory {
  readonly buffer: ArrayBufferLike;
  grow(pages: number): number;
}

/** A compiled module (opaque). */
export type WasmModule = object;

interface WasmApi {
  Memory: new (descriptor: { initial: number; maximum?: number; shared?: boolean }) => WasmMemory;
  validate(bytes: Uint8Array): boolean;
  compile(bytes: Uint8Array): Promise<WasmModule>;
  instantiate(module: WasmModule, imports: Record<string, Record<string, unknown>>): Promise<{ exports: Record<string, unknown> }>;
}

/** Undefined where the engine has no WebAssembly at all (e.g. `node --jitless`). */
export const WebAssemblyApi: WasmApi = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;
