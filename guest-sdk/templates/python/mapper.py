"""{{name}}: Portitor's order model into the warehouse's JSON."""

from portitor_sdk import order_model, require_config, warehouse_json
from wit_world import exports
from wit_world.imports import types


class MapperHandler(exports.MapperHandler):
    def map(self, order: types.Order) -> types.WarehouseOrder:
        model = order_model(order)
        lines = [{"article": line.get("sku"), "count": line.get("quantity")} for line in model.get("lineItems") or []]
        return warehouse_json({
            "goodsOwner": require_config("goods-owner"),
            "reference": model.get("orderNumber"),
            "lines": lines,
        })
