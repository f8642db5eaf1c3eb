import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { Extension, onRequestPayload } from '@hocuspocus/server';
import { build } from 'esbuild';

export interface EditorAssets {
  html: string;
  script: string;
}

/**
 * Bundles the browser editor (src/browser/editor.ts with Tiptap, Yjs and the Hocuspocus provider) once, in memory,
 * when the server starts: no separate frontend build step.
 */
export async function buildEditorAssets(): Promise<EditorAssets> {
  const result = await build({
    entryPoints: [fileURLToPath(new URL('./browser/editor.ts', import.meta.url))],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    write: false,
    logLevel: 'silent',
  });
  const html = await readFile(new URL('../public/editor.html', import.meta.url), 'utf8');
  return { html, script: result.outputFiles[0]!.text };
}

/** Serves the editor page from every node (GET / and /editor.js); other requests go on to the next extension. */
export function editorPage(assets: EditorAssets): Extension {
  return {
    async onRequest({ request, response }: onRequestPayload) {
      const { pathname } = new URL(request.url ?? '/', 'http://localhost');
      const body = pathname === '/' ? assets.html : pathname === '/editor.js' ? assets.script : undefined;
      if (body === undefined || request.method !== 'GET') return;
      const type = pathname === '/' ? 'text/html' : 'text/javascript';
      response.writeHead(200, { 'content-type': `${type}; charset=utf-8`, 'cache-control': 'no-store' });
      response.end(body);
      // Hocuspocus's documented way to stop later hooks and its default answer: reject without an error.
      throw null;
    },
  };
}
