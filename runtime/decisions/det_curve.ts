/**
 * A detection error trade-off (DET) curve: for each threshold, the share of keywords missed against
 * the false accepts per hour of audio without keywords. Keyword spotters are compared this way
 * because the operating point is a choice: how many false wake-ups per hour a user will bear.
 */
export interface DetPoint {
  threshold: number;
  missRate: number;
  falseAccepts: number;
  falseAcceptsPerHour: number;
}

/** Thresholds swept: every 0.01, plus finer steps near 1 where confident models operate. */
export const DET_THRESHOLDS: readonly number[] = [
  ...Array.from({ length: 100 }, (_, i) => i / 100),
  0.991, 0.993, 0.995, 0.997, 0.998, 0.999,
];

export function detSweep(missRateAt: (threshold: number) => number, falseAcceptsAt: (threshold: number) => number, hours: number): DetPoint[] {
  return DET_THRESHOLDS.map((threshold) => {
    const falseAccepts = falseAcceptsAt(threshold);
    return {
      threshold,
      missRate: round(missRateAt(threshold)),
      falseAccepts,
      falseAcceptsPerHour: hours > 0 ? round(falseAccepts / hours) : 0,
    };
  });
}

function round(x: number): number {
  return Math.round(x * 1e4) / 1e4;
}
