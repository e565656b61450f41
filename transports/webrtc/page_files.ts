import { readFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { fileURLToPath } from 'node:url';

/**
 * The browser page (transports/webrtc/page: plain HTML + JS, no build step; scripts/build.mjs copies
 * it next to the compiled module). Read once; served with a strict Content-Security-Policy (no
 * inline script, same-origin fetches only).
 */
export interface PageFile {
  name: string;
  type: string;
  body: Buffer;
}

const FILES: ReadonlyArray<{ name: string; type: string }> = [
  { name: 'index.html', type: 'text/html; charset=utf-8' },
  { name: 'app.js', type: 'text/javascript; charset=utf-8' },
  { name: 'style.css', type: 'text/css; charset=utf-8' },
];

const PAGE_DIR = fileURLToPath(new URL('./page/', import.meta.url));

/** Load the page's files; a missing file is reported by name (a package built without its page). */
export function loadPageFiles(dir = PAGE_DIR): { files: PageFile[]; missing: string[] } {
  const files: PageFile[] = [];
  const missing: string[] = [];
  for (const f of FILES) {
    try {
      files.push({ ...f, body: readFileSync(`${dir}${f.name}`) });
    } catch {
      missing.push(`${dir}${f.name}`);
    }
  }
  return { files, missing };
}

const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'permissions-policy': 'microphone=(self)',
};

export function sendPageFile(res: ServerResponse, file: PageFile): void {
  res.writeHead(200, { 'content-type': file.type, 'content-length': String(file.body.length), 'cache-control': 'no-cache', ...SECURITY_HEADERS });
  res.end(file.body);
}
