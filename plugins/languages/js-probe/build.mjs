// Builds plugin.js into a component for the `push-source` world:
// `node build.mjs <componentize-js package dir> <wit dir> <out.wasm>`.
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const [packageDir, witPath, out] = process.argv.slice(2);
const { componentize } = await import(pathToFileURL(join(packageDir, 'src', 'componentize.js')).href);
const sourcePath = join(dirname(fileURLToPath(import.meta.url)), 'plugin.js');
const { component } = await componentize({ sourcePath, witPath, worldName: 'push-source' });
writeFileSync(out, component);
