// A push plugin in JavaScript, built with ComponentizeJS by tests/languages.rs
// (`build.mjs`): with configuration `mode` it behaves — `echo` (the default)
// returns one event with what it was sent — or attacks the sandbox: `loop`
// never returns, `bomb` hoards memory, `forbidden` calls `target`, a host its
// manifest does not allow, through Portitor's `http` interface, and `fetch`
// calls it with the standard `fetch()` (which goes out through `wasi:http`;
// `handle` is async so that ComponentizeJS runs the event loop until the
// response). It is served at `/probe/js/{mode}`, so that each mode can be
// installed beside the others.

import { get } from 'portitor:plugin/config@0.1.0';
import { send } from 'portitor:plugin/http@0.1.0';

export const pushHandler = {
  path() {
    return `/probe/js/${get('mode') ?? 'echo'}`;
  },

  async handle(request, identity) {
    const mode = get('mode') ?? 'echo';
    if (mode === 'loop') {
      for (;;) {}
    }
    if (mode === 'bomb') {
      const hoard = [];
      for (;;) {
        hoard.push(new Uint8Array(16 * 1024 * 1024).fill(1));
      }
    }
    if (mode === 'forbidden') {
      try {
        send({ method: 'GET', url: get('target'), headers: [], body: new Uint8Array(0) });
      } catch (error) {
        // An import's error arrives as its WIT variant in `payload`; the
        // export's own is thrown as a `plugin-error` variant.
        const refused = error.payload ?? { tag: 'unknown', val: String(error) };
        throw { tag: 'fatal', val: `the host refused: ${refused.tag}: ${refused.val}` };
      }
    }
    if (mode === 'fetch') {
      try {
        const response = await fetch(get('target'));
        throw { tag: 'fatal', val: `fetch was answered ${response.status}` };
      } catch (error) {
        if (error.tag) throw error;
        throw { tag: 'fatal', val: `fetch refused: ${error}` };
      }
    }
    const body = new TextDecoder().decode(request.body);
    const payload = JSON.stringify({ language: 'javascript', seen: body, company: identity.company });
    return { events: [{ kind: 'order', externalId: `js-${body.length}`, payload }] };
  },
};
