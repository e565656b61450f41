import { lineChartSvg } from '../../runtime/report/line_chart_svg.js';
import type { TimelineSample } from './mqtt_load_bench.js';

/** What a long run (`npm run soak`) says about memory: the RSS and heap at the start and end, and their trend. */
export interface SoakSummary {
  samples: number;
  rssMiB: { first: number; last: number; max: number; slopeMiBPerHourSecondHalf: number | null };
  heapMiB: { first: number; last: number; max: number; slopeMiBPerHourSecondHalf: number | null };
  /** Windows (of `sampleEveryMs`) whose event latency p99 was above 50 ms. */
  windowsP99Above50Ms: number;
}

const mib = (b: number): number => Math.round((b / 2 ** 20) * 10) / 10;

/** Least-squares slope of y over x (per unit of x), or null with fewer than 3 points. */
function slope(points: [number, number][]): number | null {
  if (points.length < 3) return null;
  const n = points.length;
  const mx = points.reduce((a, p) => a + p[0], 0) / n;
  const my = points.reduce((a, p) => a + p[1], 0) / n;
  let num = 0;
  let den = 0;
  for (const [x, y] of points) {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  }
  return den === 0 ? null : num / den;
}

export function soakSummary(timeline: TimelineSample[]): SoakSummary {
  const half = timeline.slice(Math.floor(timeline.length / 2));
  const trend = (pick: (s: TimelineSample) => number): number | null => {
    const s = slope(half.map((t) => [t.t_s / 3600, mib(pick(t))]));
    return s === null ? null : Math.round(s * 10) / 10;
  };
  const figure = (pick: (s: TimelineSample) => number) => ({
    first: mib(pick(timeline[0] ?? ({} as TimelineSample)) || 0),
    last: mib(pick(timeline.at(-1) ?? ({} as TimelineSample)) || 0),
    max: mib(Math.max(0, ...timeline.map(pick))),
    slopeMiBPerHourSecondHalf: trend(pick),
  });
  return {
    samples: timeline.length,
    rssMiB: figure((t) => t.rss_bytes),
    heapMiB: figure((t) => t.heap_used_bytes),
    windowsP99Above50Ms: timeline.filter((t) => (t.latency_p99_ms ?? 0) > 50).length,
  };
}

/** Three charts in one SVG: memory, event latency per window, and losses (cumulative) over the run. */
export function soakSvg(timeline: TimelineSample[], title: string): string {
  const minutes = (t: TimelineSample): number => t.t_s / 60;
  const H = 300;
  const charts = [
    lineChartSvg({
      title: `${title}: service memory`, xLabel: 'minutes', yLabel: 'MiB', height: H,
      series: [
        { name: 'RSS', points: timeline.map((t) => [minutes(t), mib(t.rss_bytes)]) },
        { name: 'heap used', points: timeline.map((t) => [minutes(t), mib(t.heap_used_bytes)]) },
      ],
    }),
    lineChartSvg({
      title: 'event latency beyond the model delay, per window', xLabel: 'minutes', yLabel: 'ms', height: H,
      series: [
        { name: 'p50', points: timeline.filter((t) => t.latency_p50_ms !== null).map((t) => [minutes(t), t.latency_p50_ms!]) },
        { name: 'p99', points: timeline.filter((t) => t.latency_p99_ms !== null).map((t) => [minutes(t), t.latency_p99_ms!]) },
      ],
    }),
    lineChartSvg({
      title: 'losses so far (all devices)', xLabel: 'minutes', yLabel: 'chunks / seconds of audio', height: H,
      series: [
        { name: 'chunks dropped', points: timeline.map((t) => [minutes(t), t.chunks_dropped]) },
        { name: 'chunks shed', points: timeline.map((t) => [minutes(t), t.chunks_shed]) },
        { name: 'seq gaps', points: timeline.map((t) => [minutes(t), t.seq_gaps]) },
        { name: 'audio lost (s)', points: timeline.map((t) => [minutes(t), t.audio_lost_ms / 1000]) },
      ],
    }),
  ];
  const width = 720;
  const body = charts.map((c, i) => c.replace(/^<svg /, `<svg y="${i * H}" `)).join('\n');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${charts.length * H}" viewBox="0 0 ${width} ${charts.length * H}">\n${body}\n</svg>\n`;
}
