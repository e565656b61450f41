import { readFileSync } from 'node:fs';

/** The package version, read from package.json (works from the sources and from dist/). */
function readVersion(): string {
  for (const rel of ['../package.json', '../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'edgestream' && pkg.version) return pkg.version;
    } catch { /* try the next location */ }
  }
  return '0.0.0';
}

export const VERSION = readVersion();
