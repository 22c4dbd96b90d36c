// Shopify's `orders/create` webhook into Portitor's order model, in
// TypeScript on the SDK (`guest-sdk/typescript`): the same events as the Rust
// `plugins/shopify-orders` from the same requests (tests/languages.rs
// compares them). `guest-sdk/typescript/build.mjs` checks it (strict) against
// the types generated from the WIT and builds the `push-source` component.

import type { HttpRequest, Identity, Json, PushOutcome } from '../../../guest-sdk/typescript/portitor.ts';
import { header, invalidInput, orderEvent, pushOutcome, requestJson } from '../../../guest-sdk/typescript/portitor.ts';

type Text = string | null | undefined;

interface ShopifyAddress {
  name?: Text;
  company?: Text;
  address1?: Text;
  address2?: Text;
  city?: Text;
  zip?: Text;
  province_code?: Text;
  country_code?: Text;
  phone?: Text;
}

interface ShopifyOrder {
  id: number;
  name: string;
  order_number: number;
  email?: Text;
  phone?: Text;
  created_at?: Text;
  currency: string;
  taxes_included?: boolean | null;
  subtotal_price?: Text;
  total_tax?: Text;
  total_discounts?: Text;
  total_price?: Text;
  line_items?: Array<{
    sku?: Text;
    name?: Text;
    title?: Text;
    quantity: number;
    price: string;
    grams?: number | null;
    tax_lines?: Array<{ rate: number }> | null;
  }> | null;
  shipping_address?: ShopifyAddress | null;
  billing_address?: ShopifyAddress | null;
  shipping_lines?: Array<{ title?: Text; code?: Text; price?: Text; carrier_identifier?: Text }> | null;
  customer?: { first_name?: Text; last_name?: Text; email?: Text; phone?: Text } | null;
}

/** The object without its null and undefined values (Rust's `skip_serializing_if`). */
function compact(object: { [key: string]: Json | null | undefined }): { [key: string]: Json } {
  const kept: { [key: string]: Json } = {};
  for (const [key, value] of Object.entries(object)) {
    if (value !== null && value !== undefined) {
      kept[key] = value;
    }
  }
  return kept;
}

function addressModel(address: ShopifyAddress): { [key: string]: Json } {
  return compact({
    name: address.name,
    company: address.company,
    address1: address.address1,
    address2: address.address2,
    // Shopify formats Swedish postcodes as "413 01"; warehouses want digits.
    postalCode: address.zip == null ? undefined : address.zip.replaceAll(' ', ''),
    city: address.city,
    region: address.province_code,
    countryCode: address.country_code,
    phone: address.phone,
  });
}

function orderModel(order: ShopifyOrder): { [key: string]: Json } {
  const customer = order.customer ?? undefined;
  const name = customer ? [customer.first_name, customer.last_name].filter((part) => part != null).join(' ') : '';
  const shippingLines = order.shipping_lines ?? [];
  const firstShipping = shippingLines[0];
  return compact({
    orderNumber: String(order.order_number),
    displayName: order.name,
    orderDate: order.created_at,
    currency: order.currency,
    taxesIncluded: order.taxes_included ?? false,
    customer: compact({
      name: name === '' ? undefined : name,
      email: customer?.email ?? order.email,
      phone: customer?.phone ?? order.phone,
    }),
    billingAddress: order.billing_address == null ? undefined : addressModel(order.billing_address),
    shippingAddress: order.shipping_address == null ? undefined : addressModel(order.shipping_address),
    lineItems: (order.line_items ?? []).map((item, i) =>
      compact({
        lineNumber: i + 1,
        sku: item.sku ?? '',
        name: item.name ?? item.title,
        quantity: item.quantity,
        unitPrice: item.price,
        vatRate: item.tax_lines?.[0]?.rate,
        weightGrams: item.grams ?? 0,
      }),
    ),
    totals: compact({
      subtotal: order.subtotal_price,
      shipping: shippingLines.find((line) => line.price != null)?.price,
      tax: order.total_tax,
      discount: order.total_discounts,
      total: order.total_price,
    }),
    shippingMethod: firstShipping
      ? compact({ name: firstShipping.title, code: firstShipping.code, carrier: firstShipping.carrier_identifier })
      : undefined,
  });
}

function handle(request: HttpRequest, _identity: Identity): PushOutcome {
  const topic = header(request, 'x-shopify-topic');
  if (topic !== undefined && topic !== 'orders/create') {
    throw invalidInput(`topic \`${topic}\` is not handled; subscribe this endpoint to orders/create only`);
  }
  const order = requestJson(request) as unknown as ShopifyOrder;
  return pushOutcome([orderEvent(String(order.id), orderModel(order))]);
}

export const pushHandler: typeof import('portitor:plugin/push-handler@0.1.0') = {
  path: () => '/webhooks/shopify/orders',
  handle,
};
