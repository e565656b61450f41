/** 32-bit FNV-1a over the UTF-8 bytes of `text` (the hash nats-server's `partition()` mapping uses). */
export function fnv1a32(text: string): number {
  let h = 0x811c9dc5;
  for (const b of new TextEncoder().encode(text)) {
    h ^= b;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}
