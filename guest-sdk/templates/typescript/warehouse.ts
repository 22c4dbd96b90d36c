// {{name}}: sends a mapped order to the warehouse's API, once per reference.
import type { Receipt, WarehouseOrder } from './sdk/typescript/portitor.ts';
import { raiseForStatus, receipt, send } from './sdk/typescript/portitor.ts';

function dispatch(order: WarehouseOrder, reference: string): Receipt {
  // `warehouse` is a connection in plugin.toml: the host adds its
  // credentials. The reference makes a retried dispatch harmless.
  const headers = { 'content-type': order.contentType, 'idempotency-key': reference };
  const response = raiseForStatus(send('POST', '/orders', { connection: 'warehouse', headers, body: order.body }));
  const created = response.json() as { id: string };
  return receipt(created.id, 'accepted by the warehouse');
}

export const warehouseHandler: typeof import('portitor:plugin/warehouse-handler@0.1.0') = { dispatch };
