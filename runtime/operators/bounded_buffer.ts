import { Observable, type MonoTypeOperatorFunction, type SchedulerLike } from 'rxjs';
import { scheduleDrain } from './fair_drain.js';

export interface BoundedBufferOptions<T> {
  /** Values held at most; when full, the oldest is dropped to make room. */
  capacity: number;
  /** Called for every dropped value with the running count of drops of this subscription. */
  onDrop?: (dropped: T, dropsSoFar: number) => void;
  /** Applied to the first value emitted after a drop (e.g. to mark a stream gap). */
  afterDrop?: (next: T) => T;
  /**
   * When the buffer drains. Default: on a coming turn of the event loop, after pending I/O, so
   * that a burst of input is read (and, if too much, dropped here, counted) rather than left in
   * the socket; the drains of all buffers share a time budget per turn (`fair_drain.ts`), so the
   * process keeps reading sockets and handling signals however many queues are full.
   * Tests pass a TestScheduler.
   */
  scheduler?: SchedulerLike;
}

/**
 * Decouple a producer from a slower consumer with a bounded drop-oldest queue: values are
 * collected as they come and re-emitted, in order, on a later turn of the event loop; if more than
 * `capacity` are waiting, the oldest are dropped and counted. Like `observeOn` with a bound.
 *
 * The queue belongs to the subscription and is freed on unsubscribe; completion and errors are
 * delivered after the values still queued.
 *
 * @returns the same values, later, minus the dropped ones.
 */
export function boundedBuffer<T>(options: BoundedBufferOptions<T>): MonoTypeOperatorFunction<T> {
  const { capacity, onDrop, afterDrop, scheduler } = options;
  if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`boundedBuffer capacity must be a positive integer (got ${capacity})`);
  return (source) =>
    new Observable<T>((subscriber) => {
      // A ring of `capacity` slots; `head` is the oldest, `size` how many are held.
      let ring: (T | undefined)[] = new Array<T | undefined>(capacity);
      let head = 0;
      let size = 0;
      let drops = 0;
      let markNext = false;
      let end: { error: unknown } | 'complete' | null = null;
      let scheduled = false;
      let cancelDrain: (() => void) | null = null;
      let action: { unsubscribe(): void } | null = null;

      const drain = (): void => {
        scheduled = false;
        cancelDrain = null;
        action = null;
        // Emit what is queued now; values that arrive meanwhile (synchronously) wait for the next turn.
        let n = size;
        while (n-- > 0 && !subscriber.closed) {
          let v = ring[head] as T;
          ring[head] = undefined;
          head = (head + 1) % capacity;
          size--;
          if (markNext && afterDrop) v = afterDrop(v);
          markNext = false;
          subscriber.next(v);
        }
        if (size > 0) schedule();
        else if (end === 'complete') subscriber.complete();
        else if (end) subscriber.error(end.error);
      };
      const schedule = (): void => {
        if (scheduled) return;
        scheduled = true;
        if (scheduler) action = scheduler.schedule(drain);
        else cancelDrain = scheduleDrain(drain);
      };

      const sub = source.subscribe({
        next: (v) => {
          if (size === capacity) {
            const old = ring[head] as T;
            ring[head] = undefined;
            head = (head + 1) % capacity;
            size--;
            drops++;
            markNext = true;
            onDrop?.(old, drops);
          }
          ring[(head + size) % capacity] = v;
          size++;
          schedule();
        },
        error: (e: unknown) => {
          end = { error: e };
          schedule();
        },
        complete: () => {
          end = 'complete';
          schedule();
        },
      });
      return () => {
        sub.unsubscribe();
        cancelDrain?.();
        action?.unsubscribe();
        ring = [];
        size = 0;
      };
    });
}
