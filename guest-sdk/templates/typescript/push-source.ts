// {{name}}: a partner's order webhook into Portitor's order model.
//
// The runtime has checked the request's signature (see plugin.toml) before
// `handle` sees it; `handle` turns it into events.
import type { HttpRequest, Identity, Json, PushOutcome } from './sdk/typescript/portitor.ts';
import { info, invalidInput, orderEvent, pushOutcome, requestJson } from './sdk/typescript/portitor.ts';

interface PartnerOrder {
  id?: string;
  currency: string;
  lines?: Array<{ sku: string; quantity: number; price: string }>;
}

function handle(request: HttpRequest, _identity: Identity): PushOutcome {
  const order = requestJson(request) as unknown as PartnerOrder;
  if (typeof order !== 'object' || order === null || !order.id) {
    throw invalidInput('the order has no `id`');
  }
  const id = String(order.id);
  info(`order ${id} received`);
  const lines: Json[] = (order.lines ?? []).map((line, i) => ({
    lineNumber: i + 1,
    sku: line.sku,
    quantity: line.quantity,
    unitPrice: line.price,
  }));
  return pushOutcome([orderEvent(id, { orderNumber: id, currency: order.currency, lineItems: lines })]);
}

export const pushHandler: typeof import('portitor:plugin/push-handler@0.1.0') = {
  path: () => '/webhooks/{{name}}',
  handle,
};
