// Shopify's `orders/create` webhook into Portitor's order model, in
// JavaScript: the same events as the Rust `plugins/shopify-orders` from the
// same requests (tests/languages.rs compares them). Built with ComponentizeJS
// for the `push-source` world.

/** The object without its null and undefined values (Rust's `skip_serializing_if`). */
function compact(object) {
  return Object.fromEntries(Object.entries(object).filter(([, value]) => value !== null && value !== undefined));
}

function header(request, name) {
  const found = request.headers.find(([key]) => key === name);
  return found ? found[1] : undefined;
}

function addressModel(address) {
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

function orderModel(order) {
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

export const pushHandler = {
  path() {
    return '/webhooks/shopify/orders';
  },

  handle(request) {
    const topic = header(request, 'x-shopify-topic');
    if (topic !== undefined && topic !== 'orders/create') {
      throw { tag: 'invalid-input', val: `topic \`${topic}\` is not handled; subscribe this endpoint to orders/create only` };
    }
    let order;
    try {
      order = JSON.parse(new TextDecoder().decode(request.body));
    } catch (error) {
      throw { tag: 'invalid-input', val: `the body is not JSON: ${error.message}` };
    }
    return { events: [{ kind: 'order', externalId: String(order.id), payload: JSON.stringify(orderModel(order)) }] };
  },
};
