"""{{name}}: semantic checks of an order. Each finding names its field as a
JSON Pointer; the runtime applies the validation mode to the severities."""

import json

from portitor_sdk import finding
from wit_world import exports
from wit_world.imports import types


class ValidatorHandler(exports.ValidatorHandler):
    def validate(self, order: types.Order) -> list[types.Finding]:
        try:
            model = json.loads(order.payload)
        except ValueError:
            return [finding("error", "", "", "the order is not JSON")]
        findings = []
        currency = model.get("currency") or ""
        if len(currency) != 3 or not all("A" <= c <= "Z" for c in currency):
            findings.append(finding("error", "/currency", currency, "not an ISO 4217 code such as EUR"))
        for i, line in enumerate(model.get("lineItems") or []):
            quantity = line.get("quantity")
            if not isinstance(quantity, int) or quantity < 1:
                findings.append(finding("error", f"/lineItems/{i}/quantity", json.dumps(quantity),
                                        "a line needs a quantity of at least 1"))
        return findings
