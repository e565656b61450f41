import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { jetstream } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { pino } from 'pino';
import { ensureInputStream } from '../../transports/cluster/input_stream.js';
import { PartitionConsumer } from '../../transports/cluster/partition_consumer.js';
import { partitionSubject } from '../../transports/cluster/subjects.js';
import { natsCluster, NATS_SERVER_MISSING } from '../helpers/cluster.js';
import { sleep, until } from '../helpers/mqtt_log.js';

// A partition's consumer that goes silent (no message, no heartbeat) is replaced by a new one that
// continues after the last handled message. Once, after a NATS node restart, one partition's
// consumer stayed silent for good and its devices' events never came.

const cluster = await natsCluster(1);
const skip = cluster ? false : NATS_SERVER_MISSING;

describe('partition consumer', { skip }, () => {
  it('silent for longer than stallMs (the server frozen): recreated from the last handled message, nothing skipped, nothing twice', async () => {
    const nc = await connect({ servers: cluster!.urls });
    const lines: string[] = [];
    const logger = pino({ level: 'debug' }, { write: (s: string) => void lines.push(s) });
    let consumer: PartitionConsumer | null = null;
    try {
      const prefix = 'frozen';
      const streamName = 'frozen_inputs';
      await ensureInputStream(nc, { name: streamName, subjectPrefix: prefix, replicas: 1, maxAgeMs: 600_000, maxBytes: 64 * 1024 * 1024 }, logger);
      const js = jetstream(nc);
      const send = async (from: number, to: number): Promise<void> => {
        for (let k = from; k < to; k++) await js.publish(partitionSubject(prefix, 3, `d${k % 3}`, 'sensor'), new TextEncoder().encode(String(k)));
        // Another partition's input: never delivered to this consumer.
        await js.publish(partitionSubject(prefix, 4, 'other', 'sensor'), new TextEncoder().encode('x'));
      };
      await send(0, 20);
      const got: number[] = [];
      consumer = await PartitionConsumer.start(nc, {
        streamName,
        subjectPrefix: prefix,
        partition: 3,
        fromSeq: 1,
        replayUntil: 0,
        skipUpTo: new Map(),
        skipOthersUpTo: 0,
        handle: (m) => void got.push(Number(new TextDecoder().decode(m.data))),
        logger,
        stallMs: 1500,
      });
      await until(() => got.length === 20, 'the first 20 inputs', 10_000);
      // Idle but alive: the server's heartbeats (1 s) keep an idle consumer from looking silent.
      await sleep(3500);
      assert.ok(!lines.some((l) => l.includes('partition consumer silent')), 'no recreation while the server is alive');
      // Freeze the server: no heartbeat, no reply to the client's own recovery requests.
      process.kill(cluster!.nodes[0]!.pid!, 'SIGSTOP');
      try {
        await sleep(4000);
      } finally {
        process.kill(cluster!.nodes[0]!.pid!, 'SIGCONT');
      }
      await send(20, 40);
      await until(() => got.length >= 40, 'the inputs sent after the freeze', 20_000);
      await sleep(500);
      assert.deepEqual(got, Array.from({ length: 40 }, (_, k) => k), 'every input once, in order');
      assert.ok(lines.some((l) => l.includes('partition consumer silent: recreating it')), 'the watchdog replaced the silent consumer');
    } finally {
      await consumer?.stop();
      await nc.close();
    }
  });
});
