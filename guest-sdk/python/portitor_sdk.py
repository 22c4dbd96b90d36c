"""Portitor's Python SDK: the helpers the Rust SDK (`portitor-guest`) gives,
over the bindings componentize-py generates from the WIT (`wit_world`).

A plugin is a module `app.py` with the export class of its kind
(`PushHandler`, `PullHandler`, `ValidatorHandler`, `MapperHandler`,
`WarehouseHandler`, `AuthHandler`), built with `python3 sdk/python/build.py`.
Raise the errors below to fail a call; they reach the runtime as the WIT's
`plugin-error`."""

import json as _json

from componentize_py_types import Err
from wit_world.imports import config as _config
from wit_world.imports import cursor as _cursor
from wit_world.imports import ftp as _ftp
from wit_world.imports import http as _http
from wit_world.imports import log as _log
from wit_world.imports import types

__all__ = [
    "Err", "types", "invalid_input", "unauthorized", "transient", "fatal", "event", "order_event",
    "push_outcome", "batch", "request_json", "header", "Response", "send", "raise_for_status", "get_json", "post_json",
    "config", "require_config", "info", "warn", "error", "finding", "order_model", "warehouse_json",
    "receipt", "Ftp", "current_cursor", "checkpoint",
]


# Typed errors: `raise invalid_input("...")`.
def invalid_input(message: str) -> Err:
    """The input cannot be processed as it is: retrying will not help."""
    return Err(types.PluginError_InvalidInput(message))


def unauthorized(message: str) -> Err:
    """The partner refused the plugin's credentials."""
    return Err(types.PluginError_Unauthorized(message))


def transient(message: str) -> Err:
    """Worth retrying later: the partner is down or busy."""
    return Err(types.PluginError_Transient(message))


def fatal(message: str) -> Err:
    """A failure that needs a person."""
    return Err(types.PluginError_Fatal(message))


# Events and outcomes.
def event(kind: str, external_id: str, payload: dict) -> types.Event:
    """An event of `kind` (`order`, `shipment`, `tracking`) for `external_id`."""
    return types.Event(kind=kind, external_id=str(external_id), payload=_json.dumps(payload),
                       validation_mode=None, warehouse_id=None)


def order_event(external_id: str, payload: dict) -> types.Event:
    """An order in Portitor's order model."""
    return event("order", external_id, payload)


def push_outcome(events: list, response: types.HttpResponse | None = None) -> types.PushOutcome:
    return types.PushOutcome(events=events, response=response)


def batch(events: list, next_cursor: str, has_more: bool = False) -> types.Batch:
    return types.Batch(events=events, next_cursor=next_cursor, has_more=has_more)


# The partner's request.
def request_json(request: types.HttpRequest):
    """The body as JSON; `invalid_input` when it is not."""
    try:
        return _json.loads(bytes(request.body))
    except ValueError as failure:
        raise invalid_input(f"the body is not JSON: {failure}")


def header(request: types.HttpRequest, name: str) -> str | None:
    """A request header by name (any case)."""
    name = name.lower()
    return next((value for key, value in request.headers if key.lower() == name), None)


# Outbound HTTP, under the manifest's egress policy.
class Response:
    def __init__(self, response: _http.Response):
        self.status = response.status
        self.headers = response.headers
        self.body = bytes(response.body)

    def ok(self) -> bool:
        return 200 <= self.status < 300

    def json(self):
        try:
            return _json.loads(self.body)
        except ValueError as failure:
            raise fatal(f"partner's response is not the expected JSON: {failure}")


def send(method: str, url: str, connection: str | None = None, headers=None, body: bytes = b"",
         timeout_ms: int | None = None) -> Response:
    """Sends a request; `url` is relative to `connection`'s base URL when one
    is named (the host attaches its credentials). Any status is an answer
    (see `raise_for_status`); a request that fails raises as the Rust SDK
    does: `transient` for a timeout or the network, `fatal` otherwise."""
    request = _http.Request(method=method, url=url, headers=list((headers or {}).items()), body=body,
                            connection=connection, timeout_ms=timeout_ms)
    try:
        return Response(_http.send(request))
    except Err as failure:
        reason = failure.value
        value = getattr(reason, "value", None)
        if isinstance(reason, _http.HttpError_Timeout):
            raise transient("partner timed out")
        if isinstance(reason, _http.HttpError_Transport):
            raise transient(f"partner unreachable: {value}")
        if isinstance(reason, _http.HttpError_Denied):
            raise fatal(f"request denied by the sandbox: {value}")
        if isinstance(reason, _http.HttpError_UnknownConnection):
            raise fatal(f"unknown connection `{value}`")
        if isinstance(reason, _http.HttpError_TooLarge):
            raise fatal(f"too large: {value}")
        raise fatal(f"invalid request: {value}")


def get_json(url: str, connection: str | None = None):
    """GETs JSON; an error status raises as `raise_for_status` says."""
    return raise_for_status(send("GET", url, connection, {"accept": "application/json"})).json()


def post_json(url: str, body, connection: str | None = None, headers=None) -> Response:
    """POSTs `body` as JSON; the answer as it is (check `ok()`)."""
    headers = {"content-type": "application/json", **(headers or {})}
    return send("POST", url, connection, headers, _json.dumps(body).encode())


def raise_for_status(response: Response) -> Response:
    """The response, or the error that says whether retrying can help: 408,
    429 and 5xx are `transient`, 401 and 403 `unauthorized`, others `fatal`."""
    status = response.status
    if 200 <= status < 400:
        return response
    message = f"partner answered {status}: {response.body[:200].decode(errors='replace')}"
    if status in (408, 429) or 500 <= status <= 599:
        raise transient(message)
    raise unauthorized(message) if status in (401, 403) else fatal(message)


# Configuration (non-secret values from the manifest) and logging.
def config(key: str, default: str | None = None) -> str | None:
    value = _config.get(key)
    return default if value is None else value


def require_config(key: str) -> str:
    value = _config.get(key)
    if value is None:
        raise fatal(f"the manifest's [config] has no `{key}`")
    return value


def info(message: str):
    _log.write(_log.Level.INFO, message)


def warn(message: str):
    _log.write(_log.Level.WARN, message)


def error(message: str):
    _log.write(_log.Level.ERROR, message)


# Validators, mappers and warehouses.
def finding(severity: str, field: str, value, message: str) -> types.Finding:
    """A finding about `field` (a JSON Pointer such as `/lineItems/0/sku`);
    `severity` is `info`, `warning` or `error`."""
    level = {"info": types.Severity.INFO, "warning": types.Severity.WARNING, "error": types.Severity.ERROR}[severity]
    return types.Finding(field=field, value=str(value), severity=level, message=message)


def order_model(order: types.Order) -> dict:
    """The order model of an order the pipeline passes in."""
    try:
        return _json.loads(order.payload)
    except ValueError as failure:
        raise invalid_input(f"the order is not JSON: {failure}")


def warehouse_json(body) -> types.WarehouseOrder:
    """A mapped order as JSON."""
    return types.WarehouseOrder(content_type="application/json", body=_json.dumps(body).encode())


def receipt(warehouse_order_id: str | None, message: str) -> types.Receipt:
    return types.Receipt(warehouse_order_id=warehouse_order_id, message=message)


# FTP or SFTP on connections named in the manifest; the host holds the
# server's address and credentials.
def _ftp_error(failure: Err) -> Err:
    """An FTP error as the Rust SDK maps it: the network `transient`, the rest `fatal`."""
    reason = failure.value
    value = getattr(reason, "value", None)
    if isinstance(reason, _ftp.FtpError_Timeout):
        return transient("FTP server timed out")
    if isinstance(reason, _ftp.FtpError_Transport):
        return transient(f"FTP server unreachable: {value}")
    if isinstance(reason, _ftp.FtpError_Refused):
        return transient(f"FTP server refused: {value}")
    if isinstance(reason, _ftp.FtpError_Denied):
        return fatal(f"FTP denied by the sandbox: {value}")
    if isinstance(reason, _ftp.FtpError_UnknownConnection):
        return fatal(f"unknown FTP connection `{value}`")
    if isinstance(reason, _ftp.FtpError_NotFound):
        return fatal(f"FTP file not found: {value}")
    return fatal(f"FTP file too large: {value}")


class Ftp:
    """The manifest's FTP connection `name`. Every method raises the typed
    errors above; catch `Err` around one call to handle its failure."""

    def __init__(self, name: str):
        self.name = name

    def _call(self, operation, *args):
        try:
            return operation(self.name, *args)
        except Err as failure:
            raise _ftp_error(failure)

    def list(self, directory: str) -> list:
        """The entries of `directory` (`name`, `size`, `modified`, `is_dir`)."""
        return self._call(_ftp.list, directory)

    def retrieve(self, path: str) -> bytes:
        return bytes(self._call(_ftp.retrieve, path))

    def store(self, path: str, data: bytes):
        """Writes `data` to `path`, replacing the file if it exists."""
        self._call(_ftp.store, path, data)

    def rename(self, source: str, target: str):
        """Renames `source` to `target` (also how files move to an archive folder)."""
        self._call(_ftp.rename, source, target)

    def delete(self, path: str):
        self._call(_ftp.delete, path)

    def make_dir(self, path: str):
        """Creates directory `path`; an existing directory is not an error."""
        self._call(_ftp.make_dir, path)


# The cursor of the current pull run.
def current_cursor() -> str | None:
    """The cursor this run started from, or the last checkpoint of this run."""
    return _cursor.current()


def checkpoint(events: list, next_cursor: str):
    """Makes `events` durable, then moves the cursor to `next_cursor`: in long
    backfills, and before anything destructive (archiving a partner's file)."""
    try:
        _cursor.checkpoint(events, next_cursor)
    except Err as failure:
        raise transient(f"checkpoint failed: {failure.value}")
