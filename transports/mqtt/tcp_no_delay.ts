import type { MqttClient } from 'mqtt';

/**
 * Turn off Nagle's algorithm on an mqtt.js client's TCP socket, now and after every reconnect.
 * Audio chunks and detections are small messages that must go out at once: with Nagle on (Node's
 * default), a small write waits for the previous one's ACK, which the peer may delay up to 40 ms.
 * (Brokers have the same switch: mosquitto's `set_tcp_nodelay true`.) No-op on WebSockets.
 */
export function setTcpNoDelay(client: MqttClient): void {
  const apply = (): void => {
    const stream = client.stream as { setNoDelay?: (on: boolean) => void } | undefined;
    stream?.setNoDelay?.(true);
  };
  client.on('connect', apply);
  if (client.connected) apply();
}
