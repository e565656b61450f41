import { crc32, inflateRawSync } from 'node:zlib';
import { EdgestreamError } from '../errors.js';

/**
 * A ZIP archive read lazily: `open` reads only the central directory; an entry's bytes are produced
 * when asked for, stored entries as views of the archive (no copy), deflated ones inflated with a
 * hard cap on their output. PyTorch checkpoints are ZIP files (`torch.save` stores entries
 * uncompressed); a re-zipped one may be deflated. Nothing here trusts a size it has not checked
 * against the archive, so a hostile archive costs at most the limits below (docs/command-line.md,
 * Limits).
 */
export const ZIP_LIMITS = {
  /** Entries in one archive (a checkpoint has one per tensor storage plus a few). */
  maxEntries: 65_536,
  /** Bytes all deflated entries read from one archive may inflate to: 4 × the archive + 16 MiB. */
  inflateBudget: (archiveBytes: number): number => 4 * archiveBytes + (16 << 20),
} as const;

export interface ZipEntry {
  readonly name: string;
  /** 0 stored, 8 deflated. */
  readonly method: number;
  readonly compressedSize: number;
  /** Uncompressed size as the directory declares it (checked when the entry is read). */
  readonly size: number;
  readonly crc: number;
  readonly localHeaderOffset: number;
}

const SIG_EOCD = 0x06054b50;
const SIG_EOCD64_LOCATOR = 0x07064b50;
const SIG_EOCD64 = 0x06064b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_LOCAL = 0x04034b50;

export class ZipArchive {
  private readonly entries = new Map<string, ZipEntry>();
  private inflated = 0;

  private constructor(private readonly bytes: Uint8Array, private readonly what: string) {}

  /** Read the central directory (E_CHECKPOINT if it is not a sound ZIP archive). */
  static open(bytes: Uint8Array, what: string): ZipArchive {
    const zip = new ZipArchive(bytes, what);
    zip.readDirectory();
    return zip;
  }

  get names(): string[] {
    return [...this.entries.keys()];
  }

  entry(name: string): ZipEntry | undefined {
    return this.entries.get(name);
  }

  /**
   * The entry's bytes, at most `maxBytes` of them (a larger declared size is refused before any
   * work). Deflated entries also count against the archive's inflate budget. The CRC is checked.
   */
  read(entry: ZipEntry, maxBytes: number): Uint8Array {
    if (entry.size > maxBytes) this.fail(`entry ${entry.name} declares ${entry.size} bytes, more than the ${maxBytes} it may hold`, { entry: entry.name });
    const dv = this.view();
    const at = entry.localHeaderOffset;
    if (at + 30 > this.bytes.length || dv.getUint32(at, true) !== SIG_LOCAL) this.fail(`entry ${entry.name}: no local header at byte ${at}`);
    const start = at + 30 + dv.getUint16(at + 26, true) + dv.getUint16(at + 28, true);
    if (start + entry.compressedSize > this.bytes.length) this.fail(`entry ${entry.name} runs past the end of the archive (truncated file?)`, { entry: entry.name });
    const raw = this.bytes.subarray(start, start + entry.compressedSize);
    let data: Uint8Array;
    if (entry.method === 0) {
      data = raw;
    } else {
      const budget = ZIP_LIMITS.inflateBudget(this.bytes.length);
      if (this.inflated + entry.size > budget) {
        this.fail(`its compressed entries inflate to more than ${budget} bytes (4 × the archive + 16 MiB): a zip bomb? torch.save writes uncompressed checkpoints; re-save it with torch.save`, { entry: entry.name });
      }
      try {
        // maxOutputLength stops zlib as soon as the entry produces more than it declared.
        data = inflateRawSync(raw, { maxOutputLength: Math.max(1, entry.size) });
      } catch (e) {
        const more = (e as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE';
        this.fail(`entry ${entry.name} ${more ? `inflates to more than the ${entry.size} bytes it declares` : `cannot be inflated (${(e as Error).message})`}`, { entry: entry.name });
      }
      this.inflated += data.length;
    }
    if (data.length !== entry.size) this.fail(`entry ${entry.name} holds ${data.length} bytes, its directory says ${entry.size}`, { entry: entry.name });
    if (crc32(data) !== entry.crc) this.fail(`entry ${entry.name} fails its CRC check: the archive is damaged`, { entry: entry.name });
    return data;
  }

  private view(): DataView {
    return new DataView(this.bytes.buffer, this.bytes.byteOffset, this.bytes.byteLength);
  }

  private fail(message: string, detail?: Record<string, unknown>): never {
    throw new EdgestreamError('E_CHECKPOINT', `${this.what}: ${message}`, detail);
  }

  private readDirectory(): void {
    const b = this.bytes;
    const dv = this.view();
    const damaged = (why: string): never => this.fail(`the zip archive is damaged or truncated (${why})`);
    let eocd = -1;
    for (let i = b.length - 22; i >= Math.max(0, b.length - 22 - 0xffff); i--) {
      if (dv.getUint32(i, true) === SIG_EOCD) { eocd = i; break; }
    }
    if (eocd < 0) damaged('no end of central directory');
    if (dv.getUint16(eocd + 4, true) !== 0 || dv.getUint16(eocd + 6, true) !== 0) this.fail('multi-volume zip archives are not supported');
    let count = dv.getUint16(eocd + 10, true);
    let cdSize = dv.getUint32(eocd + 12, true);
    let cdOffset = dv.getUint32(eocd + 16, true);
    const locator = eocd - 20;
    if (locator >= 0 && dv.getUint32(locator, true) === SIG_EOCD64_LOCATOR) {
      const at = this.u64(dv, locator + 8, 'zip64 directory offset');
      if (at + 56 > b.length || dv.getUint32(at, true) !== SIG_EOCD64) damaged('bad zip64 end of central directory');
      count = this.u64(dv, at + 32, 'zip64 entry count');
      cdSize = this.u64(dv, at + 40, 'zip64 directory size');
      cdOffset = this.u64(dv, at + 48, 'zip64 directory offset');
    }
    if (cdOffset + cdSize > b.length) damaged(`the central directory (${cdSize} bytes at ${cdOffset}) runs past the end`);
    if (count > ZIP_LIMITS.maxEntries) this.fail(`the archive declares ${count} entries; a checkpoint has at most ${ZIP_LIMITS.maxEntries}`);
    if (count * 46 > cdSize) damaged(`${count} entries cannot fit in a ${cdSize}-byte directory`);
    let p = cdOffset;
    const end = cdOffset + cdSize;
    for (let i = 0; i < count; i++) {
      if (p + 46 > end || dv.getUint32(p, true) !== SIG_CENTRAL) damaged(`central directory entry ${i} is malformed`);
      const flags = dv.getUint16(p + 8, true);
      const method = dv.getUint16(p + 10, true);
      const crc = dv.getUint32(p + 16, true);
      let compressedSize = dv.getUint32(p + 20, true);
      let size = dv.getUint32(p + 24, true);
      const nameLen = dv.getUint16(p + 28, true);
      const extraLen = dv.getUint16(p + 30, true);
      const commentLen = dv.getUint16(p + 32, true);
      let localHeaderOffset = dv.getUint32(p + 42, true);
      const next = p + 46 + nameLen + extraLen + commentLen;
      if (next > end) damaged(`central directory entry ${i} runs past the directory`);
      const name = new TextDecoder('utf-8').decode(b.subarray(p + 46, p + 46 + nameLen));
      // ZIP64 extended information: the 8-byte values of the fields saturated at 0xFFFFFFFF, in order.
      let e = p + 46 + nameLen;
      const extraEnd = e + extraLen;
      while (e + 4 <= extraEnd) {
        const id = dv.getUint16(e, true);
        const len = dv.getUint16(e + 2, true);
        if (id === 0x0001) {
          let q = e + 4;
          const take = (): number => {
            if (q + 8 > e + 4 + len || q + 8 > extraEnd) damaged(`entry ${name}: short zip64 field`);
            const v = this.u64(dv, q, `entry ${name} size`);
            q += 8;
            return v;
          };
          if (size === 0xffffffff) size = take();
          if (compressedSize === 0xffffffff) compressedSize = take();
          if (localHeaderOffset === 0xffffffff) localHeaderOffset = take();
        }
        e += 4 + len;
      }
      if (flags & 1) this.fail(`entry ${name} is encrypted`);
      if (method !== 0 && method !== 8) this.fail(`entry ${name} uses compression method ${method}; only stored (0) and deflate (8) are supported`);
      if (method === 0 && size !== compressedSize) damaged(`stored entry ${name} declares ${size} bytes but occupies ${compressedSize}`);
      if (localHeaderOffset + compressedSize > b.length) damaged(`entry ${name} runs past the end of the archive`);
      if (this.entries.has(name)) this.fail(`the archive holds two entries named ${name}`);
      this.entries.set(name, { name, method, compressedSize, size, crc, localHeaderOffset });
      p = next;
    }
  }

  /** A little-endian u64 that must fit in the archive's address space. */
  private u64(dv: DataView, at: number, field: string): number {
    if (at + 8 > dv.byteLength) this.fail(`the zip archive is damaged or truncated (${field} past the end)`);
    const v = dv.getBigUint64(at, true);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) this.fail(`the zip archive is damaged (${field} is ${v})`);
    return Number(v);
  }
}
