import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isEdgestreamError } from '../../runtime/errors.js';
import { parseClusterConfig } from '../../transports/cluster/cluster_config.js';
import { fnv1a32 } from '../../transports/cluster/fnv1a.js';
import { decodeDeviceSnapshot, encodeDeviceSnapshot } from '../../transports/cluster/snapshot_envelope.js';
import { clusterNames, parseInputSubject, partitionFilter, partitionSubject, subjectMappings } from '../../transports/cluster/subjects.js';

describe('cluster names, hashing, snapshots, settings', () => {
  it('FNV-1a 32 gives the published test vectors', () => {
    // From the FNV reference test suite (draft-eastlake-fnv).
    assert.equal(fnv1a32(''), 0x811c9dc5);
    assert.equal(fnv1a32('a'), 0xe40c292c);
    assert.equal(fnv1a32('foobar'), 0xbf9cf968);
  });

  it('names the stream and buckets after the group and refuses bad groups', () => {
    assert.deepEqual(clusterNames('kws'), { inputStream: 'kws-input', membersBucket: 'kws-members', leasesBucket: 'kws-leases', snapshotsBucket: 'kws-snapshots' });
    assert.throws(() => clusterNames('a.b'), (e) => isEdgestreamError(e, 'E_CONFIG'));
    assert.throws(() => clusterNames(''), (e) => isEdgestreamError(e, 'E_CONFIG'));
  });

  it('parses mapped input subjects and nothing else', () => {
    const s = partitionSubject('edgestream', 3, 'kitchen', 'audio');
    assert.equal(s, 'edgestream.part.3.kitchen.audio');
    assert.deepEqual(parseInputSubject('edgestream', s), { partition: 3, device: 'kitchen', kind: 'audio' });
    assert.equal(parseInputSubject('edgestream', 'edgestream.kitchen.audio'), null);
    assert.equal(parseInputSubject('edgestream', 'edgestream.part.x.kitchen.audio'), null);
    assert.equal(parseInputSubject('other', s), null);
    assert.equal(partitionFilter('edgestream', 3), 'edgestream.part.3.*.*');
    assert.deepEqual(subjectMappings('kws', 8, ['audio']), { 'kws.*.audio': 'kws.part.{{partition(8,1)}}.{{wildcard(1)}}.audio' });
  });

  it('round-trips a device snapshot and refuses damaged ones with E_SNAPSHOT', () => {
    const data = new Uint8Array([1, 2, 3, 250]);
    const bytes = encodeDeviceSnapshot({ device: 'kitchen', partition: 3, inputSeq: 1234, writer: 'w1', writtenAt: '2026-01-01T00:00:00.000Z' }, data);
    const back = decodeDeviceSnapshot(bytes, 'test');
    assert.deepEqual(back.data, data);
    assert.equal(back.header.inputSeq, 1234);
    const bad = (b: Uint8Array, why: RegExp): void => assert.throws(() => decodeDeviceSnapshot(b, 'x'), (e) => isEdgestreamError(e, 'E_SNAPSHOT') && why.test((e as Error).message));
    bad(bytes.slice(0, 5), /not an edgestream cluster snapshot/);
    bad(Uint8Array.from([...bytes.slice(0, 4), 9, ...bytes.slice(5)]), /format 9/);
    bad(bytes.slice(0, 20), /truncated/);
    const garbled = bytes.slice();
    garbled[10] = 0x7b; // '{' inside the JSON header
    bad(garbled, /unreadable header|incomplete/);
  });

  it('fills in defaults and lists every bad setting with E_CONFIG', () => {
    const c = parseClusterConfig({ servers: 'nats://a:4222, nats://b:4222' });
    assert.deepEqual(c.servers, ['nats://a:4222', 'nats://b:4222']);
    assert.equal(c.partitions, 16);
    assert.equal(c.renewMs, 2000);
    assert.equal(c.memberTtlMs, c.leaseTtlMs);
    assert.match(c.memberId, /^[A-Za-z0-9_-]+-[0-9a-f]{6}$/);
    assert.throws(
      () => parseClusterConfig({ servers: 'nats://a:4222', leaseTtlMs: 1000, renewMs: 800, partitions: 0 }),
      (e) => isEdgestreamError(e, 'E_CONFIG') && /renewMs/.test((e as Error).message) && /partitions/.test((e as Error).message),
    );
    assert.throws(() => parseClusterConfig({ servers: 'http://a' }), (e) => isEdgestreamError(e, 'E_CONFIG'));
    assert.throws(() => parseClusterConfig({ servers: 'nats://a:4222', subjectPrefix: 'a.*' }), (e) => isEdgestreamError(e, 'E_CONFIG'));
  });
});
