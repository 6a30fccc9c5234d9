// Builds the component with ComponentizeJS: `node build.mjs [OUT]` (default ivr-menu-js.wasm).
// ComponentizeJS reads the WIT from inside this directory only, so the build first copies the
// repository's wit/ to .wit/ (git-ignored).
import { componentize } from '@bytecodealliance/componentize-js';
import { cp, rm, writeFile } from 'node:fs/promises';

const out = process.argv[2] ?? 'ivr-menu-js.wasm';
const wit = new URL('../../wit/', import.meta.url);
const copy = new URL('./.wit/', import.meta.url);

await rm(copy, { recursive: true, force: true });
await cp(wit, copy, { recursive: true });
const { component } = await componentize({
  sourcePath: 'app.js',
  witPath: '.wit',
  worldName: 'workflow',
  // Without these the component imports wasi:http, which callhost does not provide.
  disableFeatures: ['http', 'fetch-event'],
});
await writeFile(out, component);
