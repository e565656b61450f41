import type { TopicSchema } from './topics.js';

/**
 * Home Assistant MQTT device discovery (HA ≥ 2024.12): one retained config message per device on
 * `<prefix>/device/<base>_<device>/config` with its components, and one for the bridge (the
 * service itself) with diagnostic sensors fed from `<base>/bridge/health`. Unique ids are
 * `<base>_<device>_<component>` and never change, so two instances with different base topics
 * never collide.
 */
export interface DiscoveryOptions {
  topics: TopicSchema;
  discoveryPrefix: string;
  /** Keyword labels that become the event entity's `event_types`. */
  eventTypes: readonly string[];
  swVersion: string;
  modelName: string;
  /** Whether devices get the keyword entities (a keyword model runs). */
  audio: boolean;
  /** Whether the device gets a sensor prediction entity. */
  sensor: boolean;
}

export interface DeviceInfo {
  device: string;
  /** Friendly name (config), default the id. */
  name?: string;
  /** HA area to suggest. */
  area?: string;
}

const ORIGIN = { name: 'edgestream', sw: '', url: 'https://github.com/edgestream/edgestream' };

function slug(s: string): string {
  return s.toLowerCase().replace(/[^a-z0-9_]/g, '_');
}

export function bridgeNodeId(topics: TopicSchema): string {
  return `${slug(topics.base)}_bridge`;
}

export function deviceNodeId(topics: TopicSchema, device: string): string {
  return `${slug(topics.base)}_${device}`;
}

export function deviceDiscoveryTopic(o: DiscoveryOptions, device: string): string {
  return `${o.discoveryPrefix}/device/${deviceNodeId(o.topics, device)}/config`;
}

export function bridgeDiscoveryTopic(o: DiscoveryOptions): string {
  return `${o.discoveryPrefix}/device/${bridgeNodeId(o.topics)}/config`;
}

/** The discovery message of one device (keyword event, heard, last keyword, listening switch, threshold). */
export function deviceDiscovery(o: DiscoveryOptions, info: DeviceInfo): Record<string, unknown> {
  const t = o.topics;
  const d = info.device;
  const id = deviceNodeId(t, d);
  const eid = slug(d);
  const keywordCmps: Record<string, Record<string, unknown>> = {
    keyword: {
      p: 'event', unique_id: `${id}_keyword`, name: 'Keyword', default_entity_id: `event.${eid}_keyword`,
      state_topic: t.keyword(d), event_types: [...o.eventTypes], icon: 'mdi:account-voice',
    },
    heard: {
      p: 'binary_sensor', unique_id: `${id}_heard`, name: 'Keyword heard', default_entity_id: `binary_sensor.${eid}_keyword_heard`,
      state_topic: t.keyword(d), value_template: 'ON', off_delay: 2, device_class: 'sound',
    },
    last_keyword: {
      p: 'sensor', unique_id: `${id}_last_keyword`, name: 'Last keyword', default_entity_id: `sensor.${eid}_last_keyword`,
      state_topic: t.state(d), value_template: '{{ value_json.last_keyword }}', json_attributes_topic: t.state(d),
    },
    listening: {
      p: 'switch', unique_id: `${id}_listening`, name: 'Listening', default_entity_id: `switch.${eid}_listening`,
      command_topic: t.set(d), state_topic: t.state(d), value_template: "{{ 'ON' if value_json.listening else 'OFF' }}",
    },
    threshold: {
      p: 'number', unique_id: `${id}_threshold`, name: 'Detection threshold', default_entity_id: `number.${eid}_threshold`,
      command_topic: t.thresholdSet(d), state_topic: t.state(d), value_template: '{{ value_json.threshold }}',
      min: 0, max: 1, step: 0.01, mode: 'slider', entity_category: 'config',
    },
  };
  const cmps: Record<string, Record<string, unknown>> = o.audio ? keywordCmps : {};
  if (o.sensor) {
    cmps.prediction = {
      p: 'sensor', unique_id: `${id}_prediction`, name: 'Prediction', default_entity_id: `sensor.${eid}_prediction`,
      state_topic: t.prediction(d), value_template: '{{ value_json["values"][0] }}', json_attributes_topic: t.prediction(d),
    };
  }
  return {
    dev: {
      ids: [id], name: info.name ?? d, mf: 'edgestream', mdl: o.modelName, sw: o.swVersion, via_device: bridgeNodeId(t),
      ...(info.area !== undefined && { sa: info.area }),
    },
    o: { ...ORIGIN, sw: o.swVersion },
    availability: [{ topic: t.bridgeAvailability }, { topic: t.availability(d) }],
    availability_mode: 'all',
    qos: 1,
    cmps,
  };
}

/** The bridge device: connection state plus diagnostic sensors from `<base>/bridge/health`. */
export function bridgeDiscovery(o: DiscoveryOptions): Record<string, unknown> {
  const t = o.topics;
  const id = bridgeNodeId(t);
  const diag = (key: string, name: string, template: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
    p: 'sensor', unique_id: `${id}_${key}`, name, default_entity_id: `sensor.${id}_${key}`, state_topic: t.bridgeHealth,
    value_template: template, entity_category: 'diagnostic', ...extra,
  });
  return {
    dev: { ids: [id], name: `edgestream (${t.base})`, mf: 'edgestream', mdl: 'edgestream bridge', sw: o.swVersion },
    o: { ...ORIGIN, sw: o.swVersion },
    availability: [{ topic: t.bridgeAvailability }],
    qos: 1,
    cmps: {
      connection: {
        p: 'binary_sensor', unique_id: `${id}_connection`, name: 'Connection', default_entity_id: `binary_sensor.${id}_connection`,
        state_topic: t.bridgeAvailability, payload_on: 'online', payload_off: 'offline', device_class: 'connectivity', entity_category: 'diagnostic',
      },
      uptime: diag('uptime', 'Uptime', '{{ value_json.uptime_s }}', { unit_of_measurement: 's', device_class: 'duration' }),
      devices: diag('devices', 'Active devices', '{{ value_json.devices_active }}'),
      dropped: diag('dropped', 'Dropped chunks', '{{ value_json.chunks_dropped }}', { state_class: 'total_increasing' }),
      rejected: diag('rejected', 'Rejected messages', '{{ value_json.messages_rejected }}', { state_class: 'total_increasing' }),
      lag: diag('event_loop_lag', 'Event loop lag', '{{ value_json.event_loop_lag_ms }}', { unit_of_measurement: 'ms' }),
    },
  };
}
