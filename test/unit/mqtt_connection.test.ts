import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { MqttConnection, redact } from '../../transports/mqtt/connection.js';
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

  it('redacts passwords from URLs in logs and errors', () => {
    assert.equal(redact('mqtts://kws:s3cret@broker:8883'), 'mqtts://kws:***@broker:8883');
    assert.equal(redact('not a url'), 'not a url');
  });
});
