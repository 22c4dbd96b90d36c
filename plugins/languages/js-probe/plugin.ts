// A push plugin in TypeScript, built with the TypeScript SDK's build
// (ComponentizeJS) by tests/languages.rs: with configuration `mode` it
// behaves — `echo` (the default) returns one event with what it was sent —
// or attacks the sandbox: `loop` never returns, `bomb` hoards memory,
// `forbidden` calls `target`, a host its manifest does not allow, through
// Portitor's `http` interface, and `fetch` calls it with the standard
// `fetch()` (which goes out through `wasi:http`; `handle` is async so that
// ComponentizeJS runs the event loop until the response). It is served at
// `/probe/js/{mode}`, so that each mode can be installed beside the others.

import { config, event, fatal, pushOutcome, send } from '../../../guest-sdk/typescript/portitor.ts';
import type { HttpRequest, Identity, PushOutcome } from '../../../guest-sdk/typescript/portitor.ts';

async function handle(request: HttpRequest, identity: Identity): Promise<PushOutcome> {
  const mode = config('mode', 'echo');
  const target = config('target', '') ?? '';
  if (mode === 'loop') {
    for (;;) {}
  }
  if (mode === 'bomb') {
    const hoard: Uint8Array[] = [];
    for (;;) {
      hoard.push(new Uint8Array(16 * 1024 * 1024).fill(1));
    }
  }
  if (mode === 'forbidden') {
    // The SDK turns the host's refusal into a `fatal` plugin error naming it.
    send('GET', target);
  }
  if (mode === 'fetch') {
    let answered: string;
    try {
      answered = `fetch was answered ${(await fetch(target)).status}`;
    } catch (error) {
      throw fatal(`fetch refused: ${String(error)}`);
    }
    throw fatal(answered);
  }
  const body = new TextDecoder().decode(request.body);
  const payload = { language: 'typescript', seen: body, company: identity.company };
  return pushOutcome([event('order', `ts-${body.length}`, payload)]);
}

export const pushHandler = {
  path: (): string => `/probe/js/${config('mode', 'echo')}`,
  handle,
};
