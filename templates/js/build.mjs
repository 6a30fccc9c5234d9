// Builds {{name}}.wasm from app.js and wit/ with ComponentizeJS: `npm run build`.
import { componentize } from '@bytecodealliance/componentize-js';
import { writeFile } from 'node:fs/promises';

const { component } = await componentize({
  sourcePath: 'app.js',
  // ComponentizeJS reads WIT only from inside this directory.
  witPath: 'wit',
  worldName: 'workflow',
  // Without these the component imports wasi:http, which callhost does not provide.
  disableFeatures: ['http', 'fetch-event'],
});
await writeFile('{{name}}.wasm', component);
