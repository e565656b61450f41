import { createHash } from 'node:crypto';
import type { KV } from '@nats-io/kv';

/**
 * Compare-and-set markers that let a group of workers publish something once per device rather
 * than once per worker (Home Assistant discovery): the key `a.<name>` holds a hash of what was last
 * published. Whoever creates or changes it publishes; the others see the same hash and do not.
 */
export class AnnounceMarkers {
  constructor(private readonly kv: KV) {}

  /** True when the caller should publish `payload` for `name` (nobody published this exact payload before). */
  async claim(name: string, payload: string): Promise<boolean> {
    const key = `a.${name}`;
    const hash = createHash('sha256').update(payload).digest('hex');
    for (let attempt = 0; attempt < 3; attempt++) {
      const e = await this.kv.get(key);
      if (!e || e.operation !== 'PUT') {
        try {
          await this.kv.create(key, hash);
          return true;
        } catch {
          continue; // created meanwhile by another worker: compare below
        }
      }
      if (e.string() === hash) return false;
      try {
        await this.kv.update(key, hash, e.revision);
        return true;
      } catch {
        // changed meanwhile: look again
      }
    }
    return false;
  }

  /** Forget a marker (the device's discovery was cleared). */
  async clear(name: string): Promise<void> {
    await this.kv.delete(`a.${name}`);
  }
}
