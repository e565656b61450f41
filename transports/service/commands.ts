import type { Logger } from 'pino';
import type { Announcer } from './announcer.js';
import type { DeviceEntry } from './device_registry.js';
import type { DeviceStats } from './device_stats.js';
import { truncate } from './inputs.js';

/**
 * A command for one device (`<base>/<device>/set` ON/OFF, `<base>/<device>/threshold/set` 0…1):
 * applied and confirmed with the device's retained state, or a counted `bad_command` rejection.
 */
export function applyCommand(d: { stats: DeviceStats; log: Logger; announcer: Announcer }, entry: DeviceEntry, kind: 'set' | 'threshold/set', topic: string, payload: Uint8Array): void {
  const text = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString('utf8').trim();
  const device = entry.id;
  if (kind === 'set') {
    const v = text.toUpperCase();
    if (v !== 'ON' && v !== 'OFF') return d.stats.rejected('bad_command', `${topic}: expected ON or OFF, got "${truncate(text)}"`, device);
    entry.listening = v === 'ON';
    if (!entry.listening) entry.pendingGap = true;
    d.log.info({ device, listening: entry.listening }, 'listening set');
  } else {
    const n = Number(text);
    if (text === '' || !Number.isFinite(n) || n < 0 || n > 1) return d.stats.rejected('bad_command', `${topic}: expected a number between 0 and 1, got "${truncate(text)}"`, device);
    entry.threshold$.next(n);
    d.log.info({ device, threshold: n }, 'threshold set');
  }
  d.announcer.state(entry);
}
