import { EdgestreamError } from '../../runtime/errors.js';

/**
 * The MQTT topic schema (docs/service.md, "MQTT schema"): everything under one base topic, one level per
 * device. Device ids are `[A-Za-z0-9_-]+` (Home Assistant's node_id rule), which also keeps
 * topics free of wildcards and separators.
 */
export const DEVICE_ID = /^[A-Za-z0-9_-]{1,64}$/;

export function isValidDeviceId(id: string): boolean {
  return DEVICE_ID.test(id);
}

/** Check a base topic: non-empty levels, no wildcards, no leading `$`, no NUL. */
export function checkBaseTopic(base: string): string {
  if (base.length === 0 || base.length > 200) throw new EdgestreamError('E_CONFIG', `base topic must have 1–200 characters (got ${base.length})`);
  if (/[+#\u0000]/.test(base)) throw new EdgestreamError('E_CONFIG', `base topic "${base}" must not contain the wildcards + or # (or NUL)`);
  if (base.startsWith('$')) throw new EdgestreamError('E_CONFIG', `base topic "${base}" must not start with $ (reserved for the broker)`);
  if (base.split('/').some((level) => level.length === 0)) throw new EdgestreamError('E_CONFIG', `base topic "${base}" has an empty level (leading, trailing or double /)`);
  return base;
}

/** What a message on `<base>/<device>/<kind>` is for. */
export type InboundKind = 'audio' | 'sensor' | 'set' | 'threshold/set';

export type ParsedTopic =
  | { ok: true; device: string; kind: InboundKind }
  | { ok: false; reason: 'bad_device' | 'unknown_topic'; device?: string };

/** Topic names the service publishes and subscribes to, for one base topic. */
export class TopicSchema {
  readonly base: string;
  private readonly prefix: string;

  constructor(base: string) {
    this.base = checkBaseTopic(base);
    this.prefix = `${base}/`;
  }

  audio(device: string): string { return `${this.base}/${device}/audio`; }
  sensor(device: string): string { return `${this.base}/${device}/sensor`; }
  keyword(device: string): string { return `${this.base}/${device}/keyword`; }
  state(device: string): string { return `${this.base}/${device}/state`; }
  scores(device: string): string { return `${this.base}/${device}/scores`; }
  prediction(device: string): string { return `${this.base}/${device}/prediction`; }
  availability(device: string): string { return `${this.base}/${device}/availability`; }
  set(device: string): string { return `${this.base}/${device}/set`; }
  thresholdSet(device: string): string { return `${this.base}/${device}/threshold/set`; }
  get bridgeAvailability(): string { return `${this.base}/bridge/availability`; }
  get bridgeHealth(): string { return `${this.base}/bridge/health`; }

  /** Subscriptions for the inputs this service handles. */
  subscriptions(options: { audio: boolean; sensor: boolean }): string[] {
    const subs = [`${this.base}/+/set`, `${this.base}/+/threshold/set`];
    if (options.audio) subs.unshift(`${this.base}/+/audio`);
    if (options.sensor) subs.unshift(`${this.base}/+/sensor`);
    return subs;
  }

  /**
   * Parse an inbound topic. A device level that is not a valid id (a broker delivers `+`-matched
   * levels verbatim, so anything but `/` can arrive) is reported as `bad_device`; `bridge` is
   * reserved for the service itself.
   */
  parse(topic: string): ParsedTopic {
    if (!topic.startsWith(this.prefix)) return { ok: false, reason: 'unknown_topic' };
    const rest = topic.slice(this.prefix.length);
    const slash = rest.indexOf('/');
    if (slash < 0) return { ok: false, reason: 'unknown_topic' };
    const device = rest.slice(0, slash);
    const kind = rest.slice(slash + 1);
    if (kind !== 'audio' && kind !== 'sensor' && kind !== 'set' && kind !== 'threshold/set') return { ok: false, reason: 'unknown_topic' };
    if (!isValidDeviceId(device) || device === 'bridge') return { ok: false, reason: 'bad_device' };
    return { ok: true, device, kind };
  }
}
