import { Observable, Subject, type OperatorFunction, type Subscription } from 'rxjs';

export interface SegmentBoundaries<T> {
  /** This value begins a new segment (the current one ends before it). */
  startsSegment?: (value: T) => boolean;
  /** This value is the last of its segment. */
  endsSegment?: (value: T) => boolean;
}

/**
 * Run a stateful pipeline once per segment of a stream: every segment gets a fresh instance of
 * `pipeline` (fresh state, because operators create their state per subscription), fed with the
 * segment's values; when the segment ends its input completes, so the instance can emit what it
 * still holds (asynchronous pipelines may still be emitting when the next segment starts; the
 * output completes when the source and every pipeline have). Segment boundaries come from the values themselves
 * (e.g. a stream `start` marker, a `seq` gap, a `stop` marker).
 *
 * ```ts
 * chunks$.pipe(segmented({ startsSegment: (c) => c.gap === true }, (seg, first) => seg.pipe(spot(model))))
 * ```
 *
 * @param pipeline builds a segment's pipeline; `first` is the segment's first value.
 * @returns the outputs of every segment, in order.
 */
export function segmented<T, R>(boundaries: SegmentBoundaries<T>, pipeline: (values: Observable<T>, first: T) => Observable<R>): OperatorFunction<T, R> {
  const { startsSegment, endsSegment } = boundaries;
  return (source) =>
    new Observable<R>((subscriber) => {
      let input: Subject<T> | null = null;
      // Pipelines still running: the current one, and ended ones still emitting (asynchronous stages).
      const running = new Set<Subscription>();
      let sourceDone = false;
      const maybeComplete = (): void => {
        if (sourceDone && running.size === 0) subscriber.complete();
      };
      const endSegment = (): void => {
        const i = input;
        input = null;
        i?.complete();
      };
      const sub = source.subscribe({
        next: (v) => {
          if (input && startsSegment?.(v)) endSegment();
          if (!input) {
            const i = new Subject<T>();
            input = i;
            let done = false;
            let segment: Observable<R>;
            try {
              segment = pipeline(i.asObservable(), v);
            } catch (e) {
              input = null;
              subscriber.error(e);
              return;
            }
            const inner: Subscription = segment.subscribe({
              next: (r) => subscriber.next(r),
              error: (e: unknown) => subscriber.error(e),
              complete: () => {
                done = true;
                running.delete(inner);
                maybeComplete();
              },
            });
            if (!done) running.add(inner);
          }
          // The segment's pipeline may have failed as it started: the error went out and the
          // output is closed (its teardown cleared `input`); nothing is left to feed.
          if (subscriber.closed || !input) return;
          input.next(v);
          if (endsSegment?.(v)) endSegment();
        },
        error: (e: unknown) => {
          endSegment();
          subscriber.error(e);
        },
        complete: () => {
          sourceDone = true;
          endSegment();
          maybeComplete();
        },
      });
      return () => {
        sub.unsubscribe();
        for (const r of running) r.unsubscribe();
        running.clear();
        input = null;
      };
    });
}
