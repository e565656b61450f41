import type { Command } from 'commander';
import { EdgestreamError } from '../../runtime/errors.js';
import { loadServiceConfig, parseServiceConfig, type ServiceConfig } from '../../transports/service/config.js';
import { createService, type ServicePlugin } from '../../transports/service/service.js';
import { BACKEND_HELP, parseBackend, parseNumber } from '../options.js';

interface ServeOptions {
  config?: string;
  broker?: string;
  model?: string;
  backend?: string;
  httpPort?: string;
  cluster?: string;
  group?: string;
  memberId?: string;
}

/** Plugins `serve` starts, chosen from the config (the WebRTC endpoint registers here). */
export const SERVE_PLUGINS: ((config: ServiceConfig) => Promise<ServicePlugin | null>)[] = [];

/** Config file + environment, with the command line on top. */
export function serveConfig(opts: ServeOptions): ServiceConfig {
  const base = loadServiceConfig(opts.config);
  const raw: Record<string, unknown> = { ...base };
  if (opts.broker) raw.mqtt = { ...base.mqtt, url: opts.broker };
  if (opts.model || opts.backend) raw.model = { ...base.model, ...(opts.model && { path: opts.model }), ...(opts.backend && { backend: parseBackend(opts.backend) }) };
  if (opts.httpPort !== undefined) raw.http = { ...base.http, port: parseNumber(opts.httpPort, '--http-port') };
  if (opts.cluster !== undefined || opts.group !== undefined || opts.memberId !== undefined) {
    if (opts.cluster === undefined && base.cluster === undefined) throw new EdgestreamError('E_USAGE', '--group and --member-id need --cluster nats://… (or cluster.servers in the config file)');
    // The file's subject prefix was derived from its base topic; --cluster keeps the rest of its cluster section.
    raw.cluster = { ...(base.cluster ?? {}), ...(opts.cluster !== undefined && { servers: opts.cluster }), ...(opts.group !== undefined && { group: opts.group }), ...(opts.memberId !== undefined && { memberId: opts.memberId }) };
  }
  return parseServiceConfig(raw, opts.config ?? 'configuration');
}

/** A signal ends `serve` this long after it is handled, whatever the load (the requirement is 3 s from the signal; the event loop answers signals within tens of ms, see fair_drain.ts). */
export const EXIT_DEADLINE_MS = 2000;

/**
 * Run the service until SIGTERM/SIGINT; then stop gracefully: availability `offline` for every
 * device and the bridge, then a clean MQTT disconnect (so the broker does not fire the Will).
 * The stop is bounded (`STOP_DEADLINE_MS`), and a hard deadline exits the process after
 * `EXIT_DEADLINE_MS` even if something still holds it (the pending work is logged as dropped).
 * Resolves with the exit code.
 */
export async function runUntilSignal(service: { stop(options?: { deadlineMs?: number }): Promise<void> }, exitDeadlineMs = EXIT_DEADLINE_MS): Promise<number> {
  return new Promise<number>((resolve) => {
    let stopping = false;
    const onSignal = (sig: NodeJS.Signals): void => {
      if (stopping) return;
      stopping = true;
      process.stderr.write(`edgestream: ${sig}, stopping\n`);
      const hard = setTimeout(() => {
        process.stderr.write(`edgestream: not stopped within ${exitDeadlineMs} ms; exiting with the pending work dropped\n`);
        resolve(1);
      }, exitDeadlineMs);
      service.stop({ deadlineMs: Math.max(100, exitDeadlineMs - 500) }).then(
        () => {
          clearTimeout(hard);
          resolve(0);
        },
        (e: unknown) => {
          clearTimeout(hard);
          process.stderr.write(`edgestream: stop failed: ${(e as Error)?.message ?? String(e)}\n`);
          resolve(1);
        },
      );
    };
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
  });
}

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('run the stream service: MQTT audio/sensor topics in, keyword events and predictions out (docs/service.md)')
    .option('-c, --config <file>', 'YAML or JSON config file (secrets from EDGESTREAM_MQTT_* environment variables)')
    .option('--broker <url>', 'MQTT broker URL (overrides mqtt.url)')
    .option('--model <file>', 'keyword model (overrides model.path; default the shipped demo model)')
    .option('--backend <name>', BACKEND_HELP)
    .option('--http-port <port>', 'port of /healthz and /metrics (overrides http.port)')
    .option('--cluster <servers>', 'run as a worker of a NATS JetStream group: nats://host:4222[,nats://…] (overrides cluster.servers; docs/cluster.md)')
    .option('--group <name>', 'the worker group (overrides cluster.group; default edgestream)')
    .option('--member-id <id>', "this worker's id in the group (overrides cluster.memberId; default <hostname>-<random>)")
    .action(async (opts: ServeOptions) => {
      const config = serveConfig(opts);
      const plugins: ServicePlugin[] = [];
      for (const make of SERVE_PLUGINS) {
        const p = await make(config);
        if (p) plugins.push(p);
      }
      const service = createService(config, { plugins });
      try {
        await service.start();
      } catch (e) {
        if (e instanceof EdgestreamError) throw e;
        throw new EdgestreamError('E_MQTT', `the service failed to start: ${(e as Error).message}`);
      }
      const inputs = config.cluster ? `group ${service.clusterCoordinator?.config.group} as ${service.clusterCoordinator?.memberId} (NATS), outputs` : `${config.baseTopic}/+/audio`;
      process.stderr.write(`edgestream: serving ${inputs} on ${service.protocolVersion === 5 ? 'MQTT 5' : 'MQTT 3.1.1'}${service.httpPort ? `, http://${config.http.host}:${service.httpPort}/healthz` : ''}\n`);
      const code = await runUntilSignal(service);
      // Exit now: a handle left open (a peer in its grace period, a socket) must not keep the process alive.
      process.exit(code);
    });
}
