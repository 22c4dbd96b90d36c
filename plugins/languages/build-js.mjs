// Builds a JavaScript plugin into a component with ComponentizeJS:
// `node build-js.mjs <componentize-js package dir> <wit dir> <world> <source.js> <out.wasm>`.
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const [packageDir, witPath, worldName, source, out] = process.argv.slice(2);
const { componentize } = await import(pathToFileURL(join(packageDir, 'src', 'componentize.js')).href);
const { component } = await componentize({ sourcePath: resolve(source), witPath, worldName });
writeFileSync(out, component);
