// {{name}}: polls the partner's order API from a durable cursor.
//
// The runtime calls `fetch` on the schedule with the cursor it stored after
// the last batch, and stores the new one only once every event of the
// batch is durable.
import type { Batch } from './sdk/typescript/portitor.ts';
import { batch, getJson, info, orderEvent } from './sdk/typescript/portitor.ts';

interface Page {
  orders: Array<{ id: string; currency: string }>;
  next: string;
  more: boolean;
}

function fetch(cursor: string | undefined): Batch {
  const after = cursor ?? '0';
  // `partner` is a connection in plugin.toml: the host adds its token.
  const page = getJson(`/orders?after=${after}`, 'partner') as unknown as Page;
  info(`${page.orders.length} orders after ${after}`);
  const events = page.orders.map((order) => orderEvent(order.id, { orderNumber: order.id, currency: order.currency }));
  return batch(events, page.next, page.more);
}

export const pullHandler: typeof import('portitor:plugin/pull-handler@0.1.0') = {
  schedule: () => '0 */5 * * * *',
  cursorKey: () => 'cursor',
  fetch,
};
