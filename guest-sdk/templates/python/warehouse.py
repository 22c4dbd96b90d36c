"""{{name}}: sends a mapped order to the warehouse's API, once per reference."""

from portitor_sdk import raise_for_status, receipt, send
from wit_world import exports
from wit_world.imports import types


class WarehouseHandler(exports.WarehouseHandler):
    def dispatch(self, order: types.WarehouseOrder, reference: str) -> types.Receipt:
        # `warehouse` is a connection in plugin.toml: the host adds its
        # credentials. The reference makes a retried dispatch harmless.
        headers = {"content-type": order.content_type, "idempotency-key": reference}
        created = raise_for_status(send("POST", "/orders", "warehouse", headers, bytes(order.body))).json()
        return receipt(created["id"], "accepted by the warehouse")
