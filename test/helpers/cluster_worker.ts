// A cluster worker in its own process, so that tests can `kill -9` it. Argument: the cluster
// configuration as JSON. Prints one JSON line per event on stdout: ready, acquired, released,
// renewed (with the send time of the renewals), checkpoint.
// A program of its own: it registers the model families as the package root would.
import '../../models/register.js';
import { startClusterCoordinator } from '../../transports/cluster/index.js';
import { DeviceLog } from './cluster_device_log.js';

const config = JSON.parse(process.argv[2] ?? '{}') as Parameters<typeof startClusterCoordinator>[0];
const log = new DeviceLog(String((config as { memberId?: string }).memberId ?? 'child'));
const out = (o: Record<string, unknown>): void => void process.stdout.write(`${JSON.stringify({ t: Date.now(), ...o })}\n`);
const c = await startClusterCoordinator(config, log);
c.on('acquired', (i) => out({ event: 'acquired', ...i }));
c.on('released', (i) => out({ event: 'released', ...i }));
c.on('renewed', (i) => out({ event: 'renewed', ...i }));
c.on('checkpoint', (i) => out({ event: 'checkpoint', ...i }));
out({ event: 'ready', member: c.memberId, owned: c.ownedPartitions() });
process.on('SIGTERM', () => void c.stop().then(() => process.exit(0)));
