import { EdgestreamError } from '../../errors.js';
import { WebAssemblyApi, type WasmMemory } from './webassembly.js';

const PAGE = 65536;
/** Upper bound of one tier instance's memory (1 GiB): address space is reserved, not committed. */
const MAX_PAGES = 16384;
const ALIGN = 64;

/**
 * The linear memory of one WASM kernel instance and a small allocator over it.
 *
 * Why a *shared* memory: the `Kernels` contract hands out Float32Array views (`alloc`) that
 * programs keep for their lifetime, while `dense` keeps adding weights. Growing an ordinary
 * WebAssembly.Memory detaches its ArrayBuffer and every view on it; growing a shared memory does
 * not (old SharedArrayBuffers keep their length and still address the same bytes). So the heap
 * grows on demand and no view ever goes stale, with nothing reserved up front. Shared memories
 * exist in Node.js always and in browsers when the page is cross-origin isolated; where they do
 * not, the WASM tiers report themselves unavailable and `auto` falls back to 'js'.
 *
 * Blocks are 64-byte aligned (one cache line); freed blocks go to a first-fit free list that
 * coalesces neighbours. Every block is zeroed when handed out.
 */
export class WasmHeap {
  /** Every SharedArrayBuffer object this memory has shown (one per size after each grow). */
  private readonly buffers = new WeakSet<ArrayBufferLike>();
  private top: number;
  /** The highest `top` ever reached. */
  private highWater = 0;
  private readonly live = new Map<number, number>();
  private free: { ptr: number; size: number }[] = [];
  private wordView: Int32Array<ArrayBufferLike> = new Int32Array(0);
  /** Byte length of the memory after the last grow by this heap. */
  private grownTo: number;

  /** A new shared memory for one kernel instance (its module is instantiated on it before the heap). */
  static createMemory(): WasmMemory {
    try {
      return new WebAssemblyApi.Memory({ initial: 1, maximum: MAX_PAGES, shared: true });
    } catch (e) {
      throw new EdgestreamError('E_BACKEND', 'this JavaScript engine has no shared WebAssembly memory (browsers need cross-origin isolation); use the js tier', undefined, { cause: e });
    }
  }

  /** `base`: the module's `heap_base()` (its own static data, if any, lies below). */
  constructor(readonly memory: WasmMemory, base: number) {
    this.top = align(Math.max(base, ALIGN));
    this.buffers.add(memory.buffer);
    this.grownTo = memory.buffer.byteLength;
  }

  /** Bytes of linear memory in use by the heap (high-water mark). */
  get size(): number {
    return this.top;
  }

  /** Bytes in blocks handed out and not released. */
  get liveBytes(): number {
    let n = 0;
    for (const size of this.live.values()) n += size;
    return n;
  }

  /** A zeroed block of at least `bytes` bytes; returns its address. */
  alloc(bytes: number): number {
    const size = align(Math.max(bytes, 1));
    for (let k = 0; k < this.free.length; k++) {
      const f = this.free[k]!;
      if (f.size < size) continue;
      const ptr = f.ptr;
      if (f.size === size) this.free.splice(k, 1);
      else this.free[k] = { ptr: ptr + size, size: f.size - size };
      this.live.set(ptr, size);
      new Uint8Array(this.memory.buffer, ptr, size).fill(0);
      return ptr;
    }
    const ptr = this.top;
    this.ensure(ptr + size);
    this.top = ptr + size;
    this.live.set(ptr, size);
    // Memory above the highest top so far was never handed out (fresh pages are zero); below it,
    // a released block may have left data.
    if (ptr < this.highWater) new Uint8Array(this.memory.buffer, ptr, Math.min(size, this.highWater - ptr)).fill(0);
    this.highWater = Math.max(this.highWater, this.top);
    return ptr;
  }

  /** Return a block from `alloc` (double frees and foreign pointers are ignored). */
  release(ptr: number): void {
    const size = this.live.get(ptr);
    if (size === undefined) return;
    this.live.delete(ptr);
    if (ptr + size === this.top) {
      this.top = ptr;
      // The block below the top may now be free too.
      const last = this.free[this.free.length - 1];
      if (last && last.ptr + last.size === this.top) {
        this.top = last.ptr;
        this.free.pop();
      }
      return;
    }
    let k = 0;
    while (k < this.free.length && this.free[k]!.ptr < ptr) k++;
    this.free.splice(k, 0, { ptr, size });
    const next = this.free[k + 1];
    if (next && ptr + size === next.ptr) {
      this.free[k] = { ptr, size: size + next.size };
      this.free.splice(k + 1, 1);
    }
    const prev = this.free[k - 1];
    if (prev && prev.ptr + prev.size === ptr) {
      prev.size += this.free[k]!.size;
      this.free.splice(k, 1);
    }
  }

  f32(ptr: number, length: number): Float32Array {
    return new Float32Array(this.current(), ptr, length);
  }

  i8(ptr: number, length: number): Int8Array {
    return new Int8Array(this.current(), ptr, length);
  }

  i32(ptr: number, length: number): Int32Array {
    return new Int32Array(this.current(), ptr, length);
  }

  /**
   * An Int32Array over the whole memory, re-made only after this heap grew it (nothing else grows
   * it: one memory per kernel instance), so hot paths never touch `memory.buffer`, whose getter
   * is slow on shared memories.
   */
  words(): Int32Array<ArrayBufferLike> {
    if (this.wordView.length * 4 !== this.grownTo) this.wordView = new Int32Array(this.current());
    return this.wordView;
  }

  /** True if `view` addresses this memory (so its byteOffset is a valid pointer). */
  owns(view: ArrayBufferView): boolean {
    return this.buffers.has(view.buffer);
  }

  private current(): ArrayBufferLike {
    const b = this.memory.buffer;
    this.buffers.add(b);
    return b;
  }

  private ensure(end: number): void {
    const have = this.memory.buffer.byteLength;
    if (end <= have) return;
    // Grow by at least 1/8 of the current size so that many small allocations grow rarely.
    const pages = Math.max(Math.ceil((end - have) / PAGE), Math.ceil(have / PAGE / 8));
    const total = have / PAGE + pages;
    if (total > MAX_PAGES) {
      throw new EdgestreamError('E_BACKEND', `WASM kernel memory would exceed ${(MAX_PAGES * PAGE) >> 20} MiB (asked for ${((end - have) / 2 ** 20).toFixed(1)} MiB more); the model is too large for the wasm tiers`);
    }
    this.memory.grow(pages);
    this.buffers.add(this.memory.buffer);
    this.grownTo = this.memory.buffer.byteLength;
  }
}

function align(n: number): number {
  return Math.ceil(n / ALIGN) * ALIGN;
}
