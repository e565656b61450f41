import type { GraphBuilder } from './graph_builder.js';
import { DT } from './proto.js';

/** One region of the packed state tensor (documented in the model's `edgestream.state_layout`). */
export interface PackedSlot {
  name: string;
  /** First column in the `[N, S]` state tensor. */
  offset: number;
  /** Columns it spans (twice the value count for `f64` slots). */
  length: number;
  /** `f32`: plain float32 values; `f64`: float64 values stored as float32 pairs (hi block, then lo block). */
  kind: 'f32' | 'f64';
}

interface SlotValue {
  slot: PackedSlot;
  /** Split outputs that hold the slot at step start (one, or hi and lo). */
  parts: string[];
  /** Values to write back (same shape as parts), or null if unchanged. */
  next: string[] | null;
}

/**
 * The packed per-stream state of an ONNX step graph: one float32 tensor `[N, S]` in, one out.
 * Exporters ask for named slots while they write the graph, read them as graph values and set
 * their new values; `finish` splits the input state into the slots (a node placed first in the
 * graph) and concatenates the new values into the output state in the same order.
 *
 * float64 slots (running sums and counters that must stay exact on long streams) are stored as
 * two float32 halves `hi = f32(v)`, `lo = f32(v − hi)`: about 48 bits of mantissa, combined and
 * updated in float64 inside the graph.
 */
export class PackedState {
  private readonly values: SlotValue[] = [];
  private size = 0;

  constructor(private readonly g: GraphBuilder, private readonly stateInput: string) {}

  get slots(): PackedSlot[] {
    return this.values.map((v) => v.slot);
  }

  get columns(): number {
    return this.size;
  }

  /** A float32 slot `[N, length]`; returns its value at step start and a setter. */
  f32(name: string, length: number): { value: string; set: (next: string) => void } {
    const v = this.add(name, length, 'f32', [this.g.fresh(`${name}`)]);
    return { value: v.parts[0]!, set: (next) => { v.next = [next]; } };
  }

  /** A float64 slot `[N, length]` (stored as float32 pairs); value and setter are float64. */
  f64(name: string, length: number): { value: string; set: (next: string) => void } {
    const hi = this.g.fresh(`${name}.hi`);
    const lo = this.g.fresh(`${name}.lo`);
    const v = this.add(name, length, 'f64', [hi, lo]);
    const g = this.g;
    const value = g.op('Add', [g.op('Cast', [hi], { to: DT.DOUBLE }), g.op('Cast', [lo], { to: DT.DOUBLE })], {}, `${name}.f64`);
    return {
      value,
      set: (next) => {
        const nhi = g.op('Cast', [next], { to: DT.FLOAT }, `${name}.hi_next`);
        const rest = g.op('Sub', [next, g.op('Cast', [nhi], { to: DT.DOUBLE })]);
        v.next = [nhi, g.op('Cast', [rest], { to: DT.FLOAT }, `${name}.lo_next`)];
      },
    };
  }

  /** Write the split (first node) and the concat; returns the `[N, S]` output state value. */
  finish(): string {
    const g = this.g;
    if (this.values.length === 0) return g.op('Identity', [this.stateInput]);
    const parts = this.values.flatMap((v) => v.parts);
    const sizes = this.values.flatMap((v) => v.parts.map(() => v.slot.kind === 'f64' ? v.slot.length / 2 : v.slot.length));
    g.prepend('Split', [this.stateInput, g.i64('state_split', sizes)], parts, { axis: 1 });
    const next = this.values.flatMap((v) => v.next ?? v.parts);
    return next.length === 1 ? g.op('Identity', next) : g.op('Concat', next, { axis: 1 }, 'state_next');
  }

  private add(name: string, length: number, kind: 'f32' | 'f64', parts: string[]): SlotValue {
    const columns = kind === 'f64' ? 2 * length : length;
    const v: SlotValue = { slot: { name, offset: this.size, length: columns, kind }, parts, next: null };
    this.size += columns;
    this.values.push(v);
    return v;
  }
}
