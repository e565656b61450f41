import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { serveConfig } from '../../cli/commands/serve.js';
import { isEdgestreamError } from '../../runtime/errors.js';
import { decodeDeviceState, encodeDeviceState, type ClusterDeviceState } from '../../transports/service/cluster_device_state.js';
import { loadServiceConfig, parseServiceConfig } from '../../transports/service/config.js';
import { ROOT } from '../helpers/paths.js';

// The service's cluster settings (`cluster:` in the file, `serve --cluster`, `createService({ cluster })`)
// and a device's cluster state as it travels in snapshots.

describe('cluster settings of the service', () => {
  it('the shipped worker configuration (deploy/nats/worker.yaml) is valid and follows the mapping', () => {
    const c = loadServiceConfig(join(ROOT, 'deploy/nats/worker.yaml'), {});
    assert.deepEqual(c.cluster?.servers, ['nats://nats-1:4222', 'nats://nats-2:4222', 'nats://nats-3:4222']);
    assert.equal(c.cluster?.subjectPrefix, 'edgestream');
    assert.equal(c.cluster?.partitions, 16);
    assert.equal(c.cluster?.audioReplayMs, 14_000);
  });

  it('the subject prefix follows the base topic unless given; bad settings are E_CONFIG naming the field', () => {
    assert.equal(parseServiceConfig({ baseTopic: 'home/kws', cluster: { servers: 'nats://a:4222' } }).cluster?.subjectPrefix, 'home.kws');
    assert.equal(parseServiceConfig({ baseTopic: 'kws', cluster: { servers: 'nats://a:4222', subjectPrefix: 'other' } }).cluster?.subjectPrefix, 'other');
    assert.equal(parseServiceConfig({}).cluster, undefined);
    assert.throws(() => parseServiceConfig({ cluster: { servers: 'nats://a:4222', leaseTtlMs: 10 } }), (e: unknown) => isEdgestreamError(e, 'E_CONFIG') && /cluster\.leaseTtlMs/.test(e.message));
    assert.throws(() => parseServiceConfig({ cluster: { servers: 'nats://a:4222', audioReplayMs: -1 } }), (e: unknown) => isEdgestreamError(e, 'E_CONFIG') && /cluster\.audioReplayMs/.test(e.message));
    assert.throws(() => parseServiceConfig({ cluster: { nope: 1 } }), (e: unknown) => isEdgestreamError(e, 'E_CONFIG') && /cluster/.test(e.message));
  });

  it('serve --cluster/--group/--member-id override the file; --group alone is a usage error', () => {
    const c = serveConfig({ cluster: 'nats://x:4222,nats://y:4222', group: 'g1', memberId: 'w-1' });
    assert.equal(c.cluster?.servers, 'nats://x:4222,nats://y:4222');
    assert.equal(c.cluster?.group, 'g1');
    assert.equal(c.cluster?.memberId, 'w-1');
    assert.equal(c.cluster?.subjectPrefix, 'edgestream');
    const f = serveConfig({ config: join(ROOT, 'deploy/nats/worker.yaml'), memberId: 'host-a' });
    assert.equal(f.cluster?.memberId, 'host-a');
    assert.equal(f.cluster?.partitions, 16);
    assert.throws(() => serveConfig({ group: 'g' }), (e: unknown) => isEdgestreamError(e, 'E_USAGE'));
  });
});

describe('a device cluster state', () => {
  const state: ClusterDeviceState = {
    device: 'kitchen',
    throughSeq: 1234,
    listening: false,
    threshold: 0.7,
    lastKeyword: 'yes',
    lastScore: 0.91,
    lastTs: '2026-12-07T04:00:00.000Z',
    audio: { origin: { wallMs: 1796600000000, streamMs: 0 }, streamMs: 4200, previousStoredAt: 1796600004100, decideFromMs: 8700 },
    sensor: { header: { device: 'kitchen', model: 'ttt', lastSeq: 99, frames: 100, origin: null, savedAt: '2026-12-07T04:00:00.000Z' }, session: Uint8Array.from([1, 2, 3, 4, 5]) },
  };

  it('round-trips, with and without a sensor stream', () => {
    const back = decodeDeviceState(encodeDeviceState(state), 'kitchen');
    assert.deepEqual({ ...back, sensor: { ...back.sensor!, session: Array.from(back.sensor!.session) } }, { ...state, sensor: { ...state.sensor!, session: [1, 2, 3, 4, 5] } });
    assert.deepEqual(decodeDeviceState(encodeDeviceState({ ...state, sensor: null, audio: null }), 'kitchen'), { ...state, sensor: null, audio: null });
  });

  it('refuses bytes that are not a device state, another device\'s, a newer version, a truncated header', () => {
    const good = encodeDeviceState(state);
    const refused = (bytes: Uint8Array, device = 'kitchen'): void => assert.throws(() => decodeDeviceState(bytes, device), (e: unknown) => isEdgestreamError(e, 'E_MODEL_FORMAT'));
    refused(new Uint8Array(0));
    refused(Buffer.from('not a state at all'));
    refused(good, 'hall');
    const v2 = Uint8Array.from(good);
    v2[4] = 2;
    refused(v2);
    refused(good.subarray(0, 20));
    const badJson = Uint8Array.from(good);
    badJson[9] = 0x7b + 1;
    refused(badJson);
  });
});
