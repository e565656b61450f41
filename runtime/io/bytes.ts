/**
 * A fresh, aligned copy of some bytes. (`Buffer#slice` returns a view into Node's shared pool,
 * so `new Float32Array(buf.slice(a, b).buffer)` would read unrelated memory: always copy with this.)
 */
export function copyBytes(src: Uint8Array): Uint8Array {
  const out = new Uint8Array(src.length);
  out.set(src);
  return out;
}
