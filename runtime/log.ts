import { pino, type Logger } from 'pino';

/**
 * The one root logger. JSON lines on stderr by default (stdout stays free for command output);
 * `EDGESTREAM_LOG` sets the level (default `info`, `silent` to mute), `EDGESTREAM_LOG_PRETTY=1`
 * or a TTY on stderr selects pino-pretty. Modules take a child: `log.child({ mod: 'wasm' })`.
 */
function createRootLogger(): Logger {
  const level = process.env.EDGESTREAM_LOG ?? (process.env.NODE_ENV === 'test' ? 'silent' : 'info');
  const pretty = process.env.EDGESTREAM_LOG_PRETTY === '1' || (process.env.EDGESTREAM_LOG_PRETTY !== '0' && process.stderr.isTTY);
  if (pretty) {
    return pino({ level, transport: { target: 'pino-pretty', options: { destination: 2, colorize: true } } });
  }
  return pino({ level }, pino.destination(2));
}

export const log: Logger = createRootLogger();

export function moduleLogger(mod: string): Logger {
  return log.child({ mod });
}
