/**
 * A bounded FIFO of input frames in one preallocated ring buffer. When full, `push` overwrites
 * the oldest frame (drop-oldest: a live stream prefers fresh input to a growing lag) and counts it.
 */
export class FrameQueue {
  private readonly data: Float32Array;
  private head = 0;
  private size = 0;
  /** Frames discarded because the queue was full. */
  dropped = 0;

  constructor(readonly capacity: number, readonly dim: number) {
    this.data = new Float32Array(capacity * dim);
  }

  get length(): number {
    return this.size;
  }

  /** Append a frame (copied); returns true if the oldest frame had to be dropped. */
  push(frame: ArrayLike<number>): boolean {
    const { capacity, dim } = this;
    let dropped = false;
    if (this.size === capacity) {
      this.head = (this.head + 1) % capacity;
      this.size--;
      this.dropped++;
      dropped = true;
    }
    this.data.set(frame, ((this.head + this.size) % capacity) * dim);
    this.size++;
    return dropped;
  }

  /** Remove the oldest frame, copying it into `into` at `offset`. The queue must not be empty. */
  shiftInto(into: Float32Array, offset: number): void {
    const o = this.head * this.dim;
    into.set(this.data.subarray(o, o + this.dim), offset);
    this.head = (this.head + 1) % this.capacity;
    this.size--;
  }
}
