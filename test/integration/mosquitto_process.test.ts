import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Mosquitto, MOSQUITTO_MISSING, mosquittoBinary } from '../helpers/mosquitto.js';
import { until } from '../helpers/mqtt_log.js';

// The broker bench-mqtt and the tests start: stopping it must not wait for an exit that already happened.
describe('Mosquitto (the child-process broker)', { skip: mosquittoBinary() ? false : MOSQUITTO_MISSING }, () => {
  it('stop() returns at once when the broker was already killed by a signal (exitCode stays null then)', async () => {
    const broker = (await Mosquitto.start())!;
    const pid = broker.pid!;
    process.kill(pid, 'SIGKILL');
    await until(() => { try { process.kill(pid, 0); return false; } catch { return true; } }, 'mosquitto gone', 5000);
    await new Promise((r) => setTimeout(r, 100)); // let Node see the child's exit
    const t0 = Date.now();
    await Promise.race([broker.stop(), new Promise((_, reject) => setTimeout(() => reject(new Error('stop() hung')), 3000))]);
    assert.ok(Date.now() - t0 < 3000);
    await broker.close();
  });
});
