// Builds a TypeScript (or JavaScript) plugin project into a component, in
// one command:
//
//   node sdk/typescript/build.mjs [--project DIR] [--out FILE]
//
// It reads the plugin's kind from `plugin.toml`, generates the TypeScript
// types of that kind's world from the WIT into `sdk/typescript/types/`
// (jco; never edit them), type-checks the plugin strictly against them,
// bundles it with the SDK into one module (rolldown) and builds the
// component (ComponentizeJS). The tools come from the project's
// `node_modules` (`npm install`), or from the directory `PLUGIN_JS_TOOLS` names.
// Portitor's own tests also pass `--kind`, `--wit`, `--source` and `--types`
// (a directory of their own, as builds run side by side).
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({
  options: {
    project: { type: 'string', default: '.' },
    out: { type: 'string' },
    source: { type: 'string' },
    kind: { type: 'string' },
    wit: { type: 'string' },
    types: { type: 'string' },
  },
});
const project = resolve(args.project);
const sdk = dirname(fileURLToPath(import.meta.url));
const wit = resolve(args.wit ?? join(sdk, '..', 'wit'));
const out = resolve(args.out ?? join(project, 'plugin.wasm'));
const source = resolve(
  args.source ?? (existsSync(join(project, 'plugin.ts')) ? join(project, 'plugin.ts') : join(project, 'plugin.js')),
);
const tools = resolve(process.env.PLUGIN_JS_TOOLS ?? join(project, 'node_modules'));
const load = (path) => import(pathToFileURL(join(tools, path)).href);
const fail = (message) => {
  console.error(`build: ${message}`);
  process.exit(1);
};

const kind = args.kind ?? /^kind\s*=\s*"([a-z-]+)"/m.exec(readFileSync(join(project, 'plugin.toml'), 'utf8'))?.[1];
if (!kind) fail('plugin.toml has no `kind = "..."`');
const world = `portitor:plugin/${kind}`;

// 1. The world's types, from the WIT. jco reads the WIT through a WASI
// shim that grants no directory unless told: grant the filesystem root
// to the shim jco's own transpiler loads.
const shim = ['@bytecodealliance/jco-transpile/node_modules/@bytecodealliance/preview2-shim', '@bytecodealliance/preview2-shim']
  .map((dir) => join(dir, 'dist/nodejs/filesystem.js'))
  .find((path) => existsSync(join(tools, path)));
if (!shim) fail(`no @bytecodealliance/preview2-shim under ${tools}; run npm install`);
(await load(shim))._setPreopens({ '/': '/' });
const { types: generateTypes } = await load('@bytecodealliance/jco/dist/api.js');
const typesDir = resolve(args.types ?? join(sdk, 'types'));
rmSync(typesDir, { recursive: true, force: true });
for (const [name, bytes] of Object.entries(await generateTypes(wit, { worldName: world, guest: true }))) {
  mkdirSync(dirname(join(typesDir, name)), { recursive: true });
  writeFileSync(join(typesDir, name), bytes);
}

// 2. Strict type check of the plugin and the SDK against those types.
if (source.endsWith('.ts')) {
  const ts = (await load('typescript/lib/typescript.js')).default;
  const declarations = [];
  const collect = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) collect(path);
      else if (entry.name.endsWith('.d.ts')) declarations.push(path);
    }
  };
  collect(typesDir);
  const options = {
    strict: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ES2022,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    allowImportingTsExtensions: true,
    lib: ['lib.es2022.d.ts', 'lib.es2021.string.d.ts', 'lib.dom.d.ts'],
    types: [],
  };
  const program = ts.createProgram([source, join(sdk, 'portitor.ts'), ...declarations], options);
  const diagnostics = ts.getPreEmitDiagnostics(program);
  if (diagnostics.length > 0) {
    const host = { getCanonicalFileName: (f) => f, getCurrentDirectory: () => project, getNewLine: () => '\n' };
    console.error(ts.formatDiagnostics(diagnostics, host));
    process.exit(1);
  }
}

// 3. One module: the plugin with the SDK, the WIT's modules left as imports.
const { rolldown } = await load('rolldown/dist/index.mjs');
const bundle = await rolldown({ input: source, external: [/^portitor:/, /^wasi:/], logLevel: 'warn' });
const bundled = `${out}.js`;
await bundle.write({ file: bundled, format: 'esm' });
await bundle.close();

// 4. The component.
const { componentize } = await load('@bytecodealliance/componentize-js/src/componentize.js');
const { component } = await componentize({ sourcePath: bundled, witPath: wit, worldName: kind });
writeFileSync(out, component);
rmSync(bundled, { force: true });
console.log(`built ${relative(process.cwd(), out) || out} (${kind})`);
