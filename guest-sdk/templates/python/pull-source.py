"""{{name}}: polls the partner's order API from a durable cursor.

The runtime calls `fetch` on the schedule with the cursor it stored after
the last batch, and stores the new one only once every event of the batch
is durable."""

from portitor_sdk import batch, get_json, info, order_event
from wit_world import exports
from wit_world.imports import types


class PullHandler(exports.PullHandler):
    def schedule(self) -> str:
        return "0 */5 * * * *"

    def cursor_key(self) -> str:
        return "cursor"

    def fetch(self, cursor: str | None) -> types.Batch:
        after = cursor or "0"
        # `partner` is a connection in plugin.toml: the host adds its token.
        page = get_json(f"/orders?after={after}", connection="partner")
        info(f"{len(page['orders'])} orders after {after}")
        events = [
            order_event(order["id"], {"orderNumber": order["id"], "currency": order["currency"]})
            for order in page["orders"]
        ]
        return batch(events, page["next"], page["more"])
