// {{name}}: Portitor's order model into the warehouse's JSON.
import type { Json, Order, WarehouseOrder } from './sdk/typescript/portitor.ts';
import { orderModel, requireConfig, warehouseJson } from './sdk/typescript/portitor.ts';

function map(order: Order): WarehouseOrder {
  const model = orderModel(order);
  const items = Array.isArray(model.lineItems) ? model.lineItems : [];
  const lines: Json[] = items.map((line) => {
    const item = (line ?? {}) as { [key: string]: Json };
    return { article: item.sku ?? null, count: item.quantity ?? null };
  });
  return warehouseJson({ goodsOwner: requireConfig('goods-owner'), reference: model.orderNumber ?? null, lines });
}

export const mapperHandler: typeof import('portitor:plugin/mapper-handler@0.1.0') = { map };
