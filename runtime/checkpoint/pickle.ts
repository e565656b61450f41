import { EdgestreamError } from '../errors.js';
import { copyBytes } from '../io/bytes.js';

/**
 * A pickle reader that never executes anything.
 *
 * It interprets the opcodes PyTorch's `torch.save` emits for a state_dict (protocols 2–5) and
 * builds plain data. `GLOBAL` only resolves names the caller lists in `globals`; every callable
 * is a JS function the caller provides, so a hostile pickle can at most produce data or fail.
 * An opcode outside the supported set is an error naming it.
 */
export interface PickleGlobals {
  /** `module.name` → constructor applied by REDUCE / NEWOBJ. */
  [qualifiedName: string]: (...args: PickleValue[]) => PickleValue;
}

export type PickleValue =
  | null | boolean | number | bigint | string | Uint8Array
  | PickleValue[] | PickleTuple | PickleDict | PickleObject;

/** Python tuples are kept distinct from lists. */
export class PickleTuple {
  constructor(readonly items: PickleValue[]) {}
}

/** A dict with insertion order (keys are strings or numbers in state_dicts). */
export class PickleDict {
  readonly map = new Map<string | number, PickleValue>();
}

/** Any object produced by a caller-supplied global (tensor references, storages...). */
export interface PickleObject { readonly kind: string; [k: string]: unknown }

export interface PickleOptions {
  globals: PickleGlobals;
  /** Resolves `BINPERSID` ids (PyTorch: storage references). */
  persistentLoad: (pid: PickleValue) => PickleValue;
  /** What the bytes are, for error messages. */
  what?: string;
  /**
   * Upper bound on the values the pickle may create (every push) and on its memo, against pickle
   * bombs: each value costs at most a few hundred bytes. Default 250,000; a state_dict of 2,000
   * tensors creates about 60,000.
   */
  maxItems?: number;
}

const MARK = Symbol('mark');
type StackItem = PickleValue | typeof MARK;

export function unpickle(bytes: Uint8Array, options: PickleOptions): PickleValue {
  const what = options.what ?? 'pickle';
  const maxItems = options.maxItems ?? 250_000;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const stack: StackItem[] = [];
  const memo = new Map<number, PickleValue>();
  let pos = 0;
  let created = 0;

  const fail = (message: string): never => {
    throw new EdgestreamError('E_CHECKPOINT', `${what}: ${message} (at byte ${pos})`);
  };
  const need = (n: number): void => {
    if (pos + n > bytes.length) fail('unexpected end of data: the checkpoint is truncated');
  };
  const u8 = (): number => { need(1); return bytes[pos++]!; };
  const u16 = (): number => { need(2); const v = dv.getUint16(pos, true); pos += 2; return v; };
  const u32 = (): number => { need(4); const v = dv.getUint32(pos, true); pos += 4; return v; };
  const i32 = (): number => { need(4); const v = dv.getInt32(pos, true); pos += 4; return v; };
  const u64 = (): number => {
    need(8);
    const v = dv.getBigUint64(pos, true);
    pos += 8;
    if (v > BigInt(bytes.length)) fail(`length ${v} exceeds the data`);
    return Number(v);
  };
  const take = (n: number): Uint8Array => { need(n); const b = bytes.subarray(pos, pos + n); pos += n; return b; };
  const utf8 = (n: number): string => new TextDecoder('utf-8').decode(take(n));
  const line = (): string => {
    const end = bytes.indexOf(0x0a, pos);
    if (end < 0) fail('unterminated text line');
    const s = new TextDecoder('latin1').decode(bytes.subarray(pos, end));
    pos = end + 1;
    return s;
  };
  const push = (v: StackItem): void => {
    if (++created > maxItems) fail(`the pickle creates more than ${maxItems} values; a state_dict needs far fewer`);
    stack.push(v);
  };
  const pop = (): PickleValue => {
    const v = stack.pop();
    if (v === undefined) fail('stack underflow');
    if (v === MARK) fail('unexpected MARK');
    return v as PickleValue;
  };
  const top = (): PickleValue => {
    const v = stack[stack.length - 1];
    if (v === undefined || v === MARK) fail('stack underflow');
    return v as PickleValue;
  };
  const popMark = (): PickleValue[] => {
    const i = stack.lastIndexOf(MARK);
    if (i < 0) fail('MARK not found');
    const items = stack.splice(i + 1) as PickleValue[];
    stack.pop();
    return items;
  };
  const memoPut = (idx: number): void => {
    if (memo.size >= maxItems) fail('memo too large');
    memo.set(idx, top());
  };
  const memoGet = (idx: number): void => {
    if (!memo.has(idx)) fail(`memo key ${idx} not found`);
    push(memo.get(idx)!);
  };
  const resolveGlobal = (module: string, name: string): PickleValue => {
    const qn = `${module}.${name}`;
    const fn = options.globals[qn];
    if (!fn) fail(`refusing to load global ${qn}: not a tensor or container this reader knows (nothing is executed)`);
    return { kind: 'global', qn } as PickleObject;
  };
  const call = (callable: PickleValue, args: PickleValue[]): PickleValue => {
    const c = callable as PickleObject | null;
    if (!c || typeof c !== 'object' || c.kind !== 'global') fail('REDUCE on something that is not a known global');
    return options.globals[(c as PickleObject & { qn: string }).qn]!(...args);
  };
  const setItems = (target: PickleValue, kv: PickleValue[]): void => {
    if (!(target instanceof PickleDict)) fail('SETITEM on a non-dict');
    const d = target as PickleDict;
    for (let i = 0; i + 1 < kv.length; i += 2) {
      const k = kv[i];
      if (typeof k !== 'string' && typeof k !== 'number') fail('dict key is not a string or int');
      d.map.set(k as string | number, kv[i + 1]!);
    }
  };

  for (;;) {
    const op = u8();
    switch (op) {
      case 0x80: { const proto = u8(); if (proto > 5) fail(`pickle protocol ${proto} is not supported`); break; } // PROTO
      case 0x95: u64(); break; // FRAME (length hint only)
      case 0x2e: { // STOP
        const v = pop();
        return v;
      }
      case 0x28: push(MARK); break; // MARK
      case 0x29: push(new PickleTuple([])); break; // EMPTY_TUPLE
      case 0x5d: push([]); break; // EMPTY_LIST
      case 0x7d: push(new PickleDict()); break; // EMPTY_DICT
      case 0x74: push(new PickleTuple(popMark())); break; // TUPLE
      case 0x85: push(new PickleTuple([pop()])); break; // TUPLE1
      case 0x86: { const b = pop(); const a = pop(); push(new PickleTuple([a, b])); break; } // TUPLE2
      case 0x87: { const c = pop(); const b = pop(); const a = pop(); push(new PickleTuple([a, b, c])); break; } // TUPLE3
      case 0x6c: push(popMark()); break; // LIST
      case 0x64: { const d = new PickleDict(); setItems(d, popMark()); push(d); break; } // DICT
      case 0x61: { const v = pop(); const l = top(); if (!Array.isArray(l)) fail('APPEND on a non-list'); (l as PickleValue[]).push(v); break; } // APPEND
      case 0x65: { const items = popMark(); const l = top(); if (!Array.isArray(l)) fail('APPENDS on a non-list'); for (const it of items) (l as PickleValue[]).push(it); break; } // APPENDS (no spread: items may be many)
      case 0x73: { const v = pop(); const k = pop(); setItems(top(), [k, v]); break; } // SETITEM
      case 0x75: { const kv = popMark(); setItems(top(), kv); break; } // SETITEMS
      case 0x4e: push(null); break; // NONE
      case 0x88: push(true); break; // NEWTRUE
      case 0x89: push(false); break; // NEWFALSE
      case 0x4b: push(u8()); break; // BININT1
      case 0x4d: push(u16()); break; // BININT2
      case 0x4a: push(i32()); break; // BININT
      case 0x8a: { // LONG1
        const n = u8();
        const b = take(n);
        let v = 0n;
        for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]!);
        if (n > 0 && b[n - 1]! & 0x80) v -= 1n << BigInt(8 * n);
        push(v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v);
        break;
      }
      case 0x47: { need(8); push(dv.getFloat64(pos, false)); pos += 8; break; } // BINFLOAT (big-endian)
      case 0x58: push(utf8(u32())); break; // BINUNICODE
      case 0x8c: push(utf8(u8())); break; // SHORT_BINUNICODE
      case 0x8d: push(utf8(u64())); break; // BINUNICODE8
      case 0x55: push(new TextDecoder('latin1').decode(take(u8()))); break; // SHORT_BINSTRING
      case 0x54: push(new TextDecoder('latin1').decode(take(u32()))); break; // BINSTRING
      case 0x43: push(copyBytes(take(u8()))); break; // SHORT_BINBYTES
      case 0x42: push(copyBytes(take(u32()))); break; // BINBYTES
      case 0x71: memoPut(u8()); break; // BINPUT
      case 0x72: memoPut(u32()); break; // LONG_BINPUT
      case 0x94: memoPut(memo.size); break; // MEMOIZE
      case 0x68: memoGet(u8()); break; // BINGET
      case 0x6a: memoGet(u32()); break; // LONG_BINGET
      case 0x63: { const module = line(); const name = line(); push(resolveGlobal(module, name)); break; } // GLOBAL
      case 0x93: { const name = pop(); const module = pop(); push(resolveGlobal(String(module), String(name))); break; } // STACK_GLOBAL
      case 0x52: { // REDUCE
        const args = pop();
        const callable = pop();
        if (!(args instanceof PickleTuple)) fail('REDUCE arguments are not a tuple');
        push(call(callable, (args as PickleTuple).items));
        break;
      }
      case 0x81: { // NEWOBJ
        const args = pop();
        const cls = pop();
        if (!(args instanceof PickleTuple)) fail('NEWOBJ arguments are not a tuple');
        push(call(cls, (args as PickleTuple).items));
        break;
      }
      case 0x62: { // BUILD: state for an object; state_dicts only use it to attach `_metadata`
        pop();
        top();
        break;
      }
      case 0x51: push(options.persistentLoad(pop())); break; // BINPERSID
      case 0x30: pop(); break; // POP
      case 0x31: popMark(); break; // POP_MARK
      case 0x32: push(top()); break; // DUP
      default:
        fail(`unsupported pickle opcode 0x${op.toString(16).padStart(2, '0')}; this reader only accepts tensor state_dicts`);
    }
  }
}
