import { asyncScheduler, debounceTime, filter, groupBy, merge, mergeMap, Observable, Subject, take, type OperatorFunction, type SchedulerLike, type Subscription } from 'rxjs';

export interface PerDeviceOptions {
  /** A device's pipeline is completed (state freed) after this long without a value. Milliseconds. */
  idleMs: number;
  /** Called when a device's pipeline ends because it went idle. */
  onIdle?: (device: string) => void;
  /**
   * Called when a device's pipeline errors. With it, the error stays inside that device: the
   * pipeline is built again (fresh state) when the device's next value arrives, and other devices
   * never notice. Without it the error goes to the subscriber (plain RxJS semantics).
   */
  onError?: (device: string, error: unknown) => void;
  /** Scheduler for the idle timers (tests pass a TestScheduler). Default `asyncScheduler`. */
  scheduler?: SchedulerLike;
  /**
   * Device ids whose pipeline ends now, as if it had gone idle (`onIdle` is called; a later value
   * starts a fresh one): e.g. a cluster worker handing the device over to another worker.
   */
  end$?: Observable<string>;
}

/**
 * Split a multi-device stream into one pipeline per device (`groupBy` with an idle `duration`),
 * run them side by side and merge their outputs. A device's pipeline is subscribed when its first
 * value arrives and completed after `idleMs` of silence, which disposes whatever state its
 * operators hold; a later value starts a fresh one.
 *
 * ```ts
 * chunks$.pipe(perDevice((device, chunks) => chunks.pipe(keywordSpotting(model)), { idleMs: 30_000 }))
 * ```
 *
 * @param project builds one device's pipeline from its values.
 * @returns the merged outputs of every device's pipeline.
 */
export function perDevice<T extends { device: string }, R>(
  project: (device: string, values: Observable<T>) => Observable<R>,
  options: PerDeviceOptions,
): OperatorFunction<T, R> {
  const scheduler = options.scheduler ?? asyncScheduler;
  const { onIdle, onError } = options;
  return (source) =>
    source.pipe(
      groupBy((v) => v.device, {
        duration: (group) => {
          const idle = group.pipe(debounceTime(options.idleMs, scheduler));
          const end$ = options.end$;
          return (end$ ? merge(idle, end$.pipe(filter((d) => d === group.key))) : idle).pipe(take(1));
        },
      }),
      mergeMap(
        (group) =>
          new Observable<R>((subscriber) => {
            const device = group.key;
            // One incarnation of the device pipeline: its own input relay and subscription.
            let relay: Subject<T> | null = null;
            let inner: Subscription | null = null;
            const start = (): Subject<T> => {
              const r = new Subject<T>();
              relay = r;
              inner = project(device, r.asObservable()).subscribe({
                next: (v) => subscriber.next(v),
                error: (e: unknown) => {
                  if (!onError) return subscriber.error(e);
                  if (relay === r) relay = null; // the next value builds a new pipeline
                  onError(device, e);
                  if (idle) subscriber.complete();
                },
                // After the device went idle: the pipeline has emitted everything it held.
                complete: () => {
                  if (idle) subscriber.complete();
                },
              });
              return r;
            };
            let idle = false;
            const sub = group.subscribe({
              next: (v) => (relay ?? start()).next(v),
              error: (e: unknown) => subscriber.error(e),
              complete: () => {
                idle = true;
                onIdle?.(device);
                const live = relay !== null && inner !== null && !inner.closed;
                if (live) relay!.complete(); // the pipeline emits what it still holds, then completes
                else subscriber.complete();
              },
            });
            return () => {
              sub.unsubscribe();
              inner?.unsubscribe();
              relay = null;
            };
          }),
      ),
    );
}
