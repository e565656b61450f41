import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import type { ConformanceResult, ConformanceRunner } from '../../runtime/conformance.js';
import { EdgestreamError } from '../../runtime/errors.js';
import { frontendGoldenRunner } from '../../runtime/audio/conformance.js';
import { registeredFamilies } from '../../runtime/model/family_registry.js';
import { backendOption, parseNumber } from '../options.js';
import type { BackendName } from '../../runtime/model/model.js';

/** Golden formats this build understands: each registered model family's, and the audio front end's. */
export function conformanceRunners(): ConformanceRunner[] {
  return [...registeredFamilies().flatMap((f) => (f.goldenRunner ? [f.goldenRunner] : [])), frontendGoldenRunner];
}

/** Expand the arguments: golden files/dirs as given, or folders searched for them. */
export function collectGoldens(paths: string[]): { path: string; runner: ConformanceRunner }[] {
  const found: { path: string; runner: ConformanceRunner }[] = [];
  const runners = conformanceRunners();
  const visit = (p: string, explicit: boolean): void => {
    const runner = runners.find((r) => r.matches(p));
    if (runner) {
      found.push({ path: p, runner });
      return;
    }
    let st;
    try { st = statSync(p); } catch { throw new EdgestreamError('E_IO', `${p}: no such file or directory`); }
    if (st.isDirectory()) {
      for (const name of readdirSync(p).sort()) visit(join(p, name), false);
    } else if (explicit) {
      throw new EdgestreamError('E_GOLDEN_FORMAT', `${p}: not a golden file this build understands (${runners.map((r) => r.name).join(', ')})`);
    }
  };
  for (const p of paths) visit(p, true);
  return found;
}

export function registerConformance(program: Command): void {
  program
    .command('conformance')
    .description('run golden vectors (../shared/golden format) through the public API token by token; exit 1 if any exceeds its tolerance')
    .argument('<golden...>', 'golden files or directories (searched recursively)')
    .option('--tol <x>', 'override every tolerance')
    .addOption(backendOption())
    .option('--json', 'print one JSON object per golden')
    .action(async (paths: string[], opts: { tol?: string; backend: BackendName | 'auto'; json?: boolean }) => {
      const goldens = collectGoldens(paths);
      if (goldens.length === 0) throw new EdgestreamError('E_GOLDEN_FORMAT', `no golden vectors found in ${paths.join(', ')}`);
      const backend = opts.backend;
      const tol = opts.tol !== undefined ? parseNumber(opts.tol, '--tol') : undefined;
      let failed = 0;
      for (const g of goldens) {
        const r: ConformanceResult = await g.runner.run(g.path, { backend, ...(tol !== undefined && { tol }) });
        if (!r.pass) failed++;
        if (opts.json) process.stdout.write(`${JSON.stringify(r)}\n`);
        else process.stdout.write(`${r.pass ? 'PASS' : 'FAIL'}  ${r.path}  ${r.kind}  max abs error ${r.maxAbsError.toExponential(3)} (tol ${r.tol})  ${r.note}\n`);
      }
      if (!opts.json) process.stdout.write(`${goldens.length - failed}/${goldens.length} within tolerance\n`);
      if (failed > 0) process.exitCode = 1;
    });
}
