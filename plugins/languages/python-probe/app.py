"""A push plugin in Python, built with componentize-py by tests/languages.rs:
with configuration `mode` it behaves -- `echo` (the default) returns one
event with what it was sent -- or attacks the sandbox: `loop` never returns,
`bomb` hoards memory, `forbidden` calls `target`, a host its manifest does
not allow, through Portitor's `http` interface. It is served at
`/probe/python/{mode}`, so that each mode can be installed beside the others."""

import json

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import config, http, types


class PushHandler(exports.PushHandler):
    def path(self) -> str:
        return f"/probe/python/{config.get('mode') or 'echo'}"

    def handle(self, request: types.HttpRequest, identity: types.Identity) -> types.PushOutcome:
        mode = config.get("mode") or "echo"
        if mode == "loop":
            while True:
                pass
        if mode == "bomb":
            hoard = []
            while True:
                hoard.append(bytearray(16 * 1024 * 1024))
        if mode == "forbidden":
            request = http.Request(method="GET", url=config.get("target") or "", headers=[], body=b"",
                                   connection=None, timeout_ms=None)
            try:
                http.send(request)
            except Err as refused:
                # An import's error arrives as `Err(variant)`; the export's
                # own is raised as `Err(plugin-error)`.
                raise Err(types.PluginError_Fatal(f"the host refused: {refused.value.value}"))
        body = bytes(request.body).decode()
        payload = json.dumps({"language": "python", "seen": body, "company": identity.company})
        event = types.Event(kind="order", external_id=f"py-{len(body)}", payload=payload,
                            validation_mode=None, warehouse_id=None)
        return types.PushOutcome(events=[event], response=None)
