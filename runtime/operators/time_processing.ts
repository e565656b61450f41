import { Observable, type MonoTypeOperatorFunction } from 'rxjs';

/**
 * Measure how long the synchronous part of the downstream pipeline takes per value: each value
 * is passed on, and when the downstream `next` returns, `onProcessed(value, ms)` is called with the
 * elapsed time. Put it in front of a synchronous stage (decode, features, inference) to time it;
 * values are not changed or delayed.
 */
export function timeProcessing<T>(onProcessed: (value: T, ms: number) => void): MonoTypeOperatorFunction<T> {
  return (source) =>
    new Observable<T>((subscriber) =>
      source.subscribe({
        next: (v) => {
          const t0 = performance.now();
          subscriber.next(v);
          onProcessed(v, performance.now() - t0);
        },
        error: (e: unknown) => subscriber.error(e),
        complete: () => subscriber.complete(),
      }),
    );
}
