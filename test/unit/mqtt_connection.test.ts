import assert from 'node:assert/strict';
import { Socket } from 'node:net';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { MqttConnection, redact } from '../../transports/mqtt/connection.js';
import { startEmbeddedBroker } from '../../transports/mqtt/embedded_broker.js';
import { freePort } from '../helpers/mosquitto.js';

describe('MqttConnection', () => {
  it('reconnects with a jittered delay (0.5–1.5× the base, new for each outage) and fails waitConnected with the cause', async () => {
    const port = await freePort(); // nothing listens there
    const periods: number[] = [];
    const conn = new MqttConnection({ url: `mqtt://127.0.0.1:${port}`, clientId: 'jitter-test', reconnectMs: 100 }, { onConnect: () => undefined, onMessage: () => undefined }, pino({ level: 'silent' }));
    conn.client.on('close', () => periods.push(conn.client.options.reconnectPeriod!));
    await assert.rejects(conn.waitConnected(1200), (e: unknown) => (e as { code?: string }).code === 'E_MQTT' && /ECONNREFUSED/.test((e as Error).message));
    await conn.end(true);
    assert.ok(periods.length >= 1, 'at least one outage');
    for (const p of periods) assert.ok(p >= 50 && p <= 150, `reconnect period ${p} outside 50–150 ms`);
    if (periods.length >= 3) assert.ok(new Set(periods).size > 1, `the delay is drawn anew: ${periods.join(', ')}`);
  });

  it('turns off Nagle\'s algorithm on its socket, again after a reconnect', async () => {
    const broker = await startEmbeddedBroker();
    const noDelay = new WeakMap<Socket, boolean>();
    const original = Socket.prototype.setNoDelay;
    Socket.prototype.setNoDelay = function (this: Socket, on?: boolean) {
      noDelay.set(this, on ?? true);
      return original.call(this, on);
    };
    const conn = new MqttConnection({ url: broker.url, clientId: 'nodelay-test', reconnectMs: 100 }, { onConnect: () => undefined, onMessage: () => undefined }, pino({ level: 'silent' }));
    try {
      await conn.waitConnected(5000);
      const first = conn.client.stream as Socket;
      assert.equal(noDelay.get(first), true);
      first.destroy(); // mqtt.js reconnects on a new socket
      await new Promise<void>((resolve) => conn.client.once('connect', () => resolve()));
      const second = conn.client.stream as Socket;
      assert.notEqual(second, first);
      assert.equal(noDelay.get(second), true);
    } finally {
      Socket.prototype.setNoDelay = original;
      await conn.end(true);
      await broker.close();
    }
  });

  it('redacts passwords from URLs in logs and errors', () => {
    assert.equal(redact('mqtts://kws:s3cret@broker:8883'), 'mqtts://kws:***@broker:8883');
    assert.equal(redact('not a url'), 'not a url');
  });
});
