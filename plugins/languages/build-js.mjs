// Builds a JavaScript or TypeScript plugin into a component with ComponentizeJS:
// `node build-js.mjs <componentize-js package dir> <wit dir> <world> <source.js|.ts> <out.wasm>`.
// TypeScript is type-checked (strict) and compiled first, with the
// `typescript` package installed beside ComponentizeJS.
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const [packageDir, witPath, worldName, source, out] = process.argv.slice(2);
const load = (path) => import(pathToFileURL(path).href);
let sourcePath = resolve(source);
if (sourcePath.endsWith('.ts')) {
  const ts = (await load(join(packageDir, '..', '..', 'typescript', 'lib', 'typescript.js'))).default;
  const options = {
    strict: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ES2022,
    lib: ['lib.es2022.d.ts', 'lib.es2021.string.d.ts', 'lib.dom.d.ts'],
    types: [],
  };
  const diagnostics = ts.getPreEmitDiagnostics(ts.createProgram([sourcePath], options));
  if (diagnostics.length > 0) {
    const host = { getCanonicalFileName: (f) => f, getCurrentDirectory: () => process.cwd(), getNewLine: () => '\n' };
    console.error(ts.formatDiagnostics(diagnostics, host));
    process.exit(1);
  }
  const compiled = ts.transpileModule(readFileSync(sourcePath, 'utf8'), {
    compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ES2022 },
  });
  sourcePath = `${out}.js`;
  writeFileSync(sourcePath, compiled.outputText);
}
const { componentize } = await load(join(packageDir, 'src', 'componentize.js'));
const { component } = await componentize({ sourcePath, witPath, worldName });
writeFileSync(out, component);
