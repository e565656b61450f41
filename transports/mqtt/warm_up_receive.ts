import mqttPacket, { type IPublishPacket, type Packet } from 'mqtt-packet';
import { bytesPerFrame } from '../../runtime/operators/pcm_layout.js';
import type { PcmFormat } from '../../runtime/operators/types.js';
import { audioMessageProperties } from './audio_publisher.js';
import { AudioMessageError, parseAudioMessage, type AudioMessageLimits } from './audio_message.js';
import type { TopicSchema } from './topics.js';

/**
 * Parse synthetic audio messages, as devices send them (MQTT 5 with properties, and 3.1.1), with
 * the MQTT packet parser mqtt.js uses and then `parseAudioMessage`: V8 compiles that receive path
 * before a hundred devices start streaming at once. Nothing is sent or kept. Returns milliseconds.
 */
export function warmUpAudioReceive(topics: TopicSchema, format: PcmFormat, limits: AudioMessageLimits, messages = 3000): number {
  const t0 = performance.now();
  const payload = Buffer.alloc(Math.round(format.rate / 50) * bytesPerFrame(format));
  for (const protocolVersion of [5, 4] as const) {
    const parser = mqttPacket.parser({ protocolVersion });
    parser.on('packet', (p: Packet) => {
      if (p.cmd !== 'publish') return;
      const t = topics.parse(p.topic);
      if (!t.ok) return;
      const props = (p as IPublishPacket).properties;
      try {
        parseAudioMessage(t.device, p.payload as Buffer, { ...(props?.contentType !== undefined && { contentType: props.contentType }), ...(props?.userProperties !== undefined && { userProperties: props.userProperties }) }, format, limits, Date.now());
      } catch (e) {
        // A configuration whose limits refuse 20 ms chunks (tiny maxPacketBytes) still starts; it just warms less.
        if (!(e instanceof AudioMessageError)) throw e;
      }
    });
    // A hundred distinct messages (generating is slower than parsing), parsed over and over.
    const packets = Array.from({ length: 100 }, (_, i) =>
      mqttPacket.generate(
        {
          cmd: 'publish',
          topic: topics.audio(`warmup${i}`),
          payload,
          qos: 0,
          dup: false,
          retain: false,
          ...(protocolVersion === 5 && { properties: audioMessageProperties(format, 'chunk', i, i * 20) }),
        } satisfies IPublishPacket,
        { protocolVersion },
      ),
    );
    const n = protocolVersion === 5 ? messages : Math.ceil(messages / 10);
    for (let i = 0; i < n; i++) parser.parse(packets[i % packets.length]!);
  }
  return performance.now() - t0;
}
