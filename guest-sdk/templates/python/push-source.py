"""{{name}}: a partner's order webhook into Portitor's order model.

The runtime has checked the request's signature (see plugin.toml) before
`handle` sees it; `handle` turns it into events."""

from portitor_sdk import info, invalid_input, order_event, push_outcome, request_json
from wit_world import exports
from wit_world.imports import types


class PushHandler(exports.PushHandler):
    def path(self) -> str:
        return "/webhooks/{{name}}"

    def handle(self, request: types.HttpRequest, identity: types.Identity) -> types.PushOutcome:
        order = request_json(request)
        if not isinstance(order, dict) or not order.get("id"):
            raise invalid_input("the order has no `id`")
        order_id = str(order["id"])
        info(f"order {order_id} received")
        lines = [
            {"lineNumber": i + 1, "sku": line["sku"], "quantity": line["quantity"], "unitPrice": line["price"]}
            for i, line in enumerate(order.get("lines", []))
        ]
        payload = {"orderNumber": order_id, "currency": order["currency"], "lineItems": lines}
        return push_outcome([order_event(order_id, payload)])
