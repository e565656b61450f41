#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
// The shipped model families register with the runtime before any command loads a model.
import '../models/register.js';
import { describeError, isEdgestreamError } from '../runtime/errors.js';
import { log } from '../runtime/log.js';
import { COMMANDS } from './commands/index.js';
import { VERSION } from './version.js';

/**
 * The `edgestream` command line. Each command lives in cli/commands/<name>.ts and registers
 * itself on the program. Exit codes: 0 success, 1 a check failed (conformance over tolerance,
 * eval below target), 2 an error (bad input, bad usage), with `edgestream: E_CODE: message`.
 */
/** Commands whose logs are their output (services). */
const LONG_RUNNING = new Set(['serve', 'demo', 'listen']);

export async function main(argv: string[]): Promise<number> {
  const program = new Command('edgestream')
    .description('Streaming inference for stateful models at the edge (LMUFormer, TTT layers)')
    .version(VERSION)
    .showHelpAfterError()
    .exitOverride()
    // Usage errors in the CLI's one format: `edgestream: E_USAGE: …` on one line (then the help).
    .configureOutput({ outputError: (text, write) => write(`edgestream: E_USAGE: ${text.replace(/^error: /, '')}`) });
  for (const register of COMMANDS) register(program);
  // One-shot commands report problems themselves on stderr; library warnings would repeat them as
  // JSON. Long-running commands keep the logs. EDGESTREAM_LOG always wins.
  if (process.env.EDGESTREAM_LOG === undefined && !LONG_RUNNING.has(argv[0] ?? '')) log.level = 'error';
  try {
    await program.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2;
    if (isEdgestreamError(e)) {
      process.stderr.write(`edgestream: ${describeError(e)}\n`);
      return 2;
    }
    process.stderr.write(`edgestream: internal error: ${(e as Error)?.stack ?? String(e)}\n`);
    return 2;
  }
}

const isEntry = process.argv[1] && import.meta.url === new URL(`file://${(await import('node:fs')).realpathSync(process.argv[1])}`).href;
if (isEntry) {
  // `edgestream inspect m | head`: a reader that goes away is not an error.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw e;
  });
  process.exitCode = await main(process.argv.slice(2));
}
