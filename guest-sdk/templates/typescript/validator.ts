// {{name}}: semantic checks of an order. Each finding names its field as a
// JSON Pointer; the runtime applies the validation mode to the severities.
import type { Finding, Json, Order } from './sdk/typescript/portitor.ts';
import { finding } from './sdk/typescript/portitor.ts';

function validate(order: Order): Finding[] {
  let model: { currency?: Json; lineItems?: Array<{ quantity?: Json }> };
  try {
    model = JSON.parse(order.payload);
  } catch {
    return [finding('error', '', '', 'the order is not JSON')];
  }
  const findings: Finding[] = [];
  const currency = typeof model.currency === 'string' ? model.currency : '';
  if (!/^[A-Z]{3}$/.test(currency)) {
    findings.push(finding('error', '/currency', currency, 'not an ISO 4217 code such as EUR'));
  }
  (model.lineItems ?? []).forEach((line, i) => {
    const quantity = line.quantity;
    if (typeof quantity !== 'number' || !Number.isInteger(quantity) || quantity < 1) {
      findings.push(finding('error', `/lineItems/${i}/quantity`, JSON.stringify(quantity ?? null), 'a line needs a quantity of at least 1'));
    }
  });
  return findings;
}

export const validatorHandler: typeof import('portitor:plugin/validator-handler@0.1.0') = { validate };
