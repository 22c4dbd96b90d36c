//! Shopify `orders/create` webhooks → `order` events in Portitor's order model,
//! and back: what became of each order, as tags and a note on the order in
//! Shopify's admin (through the `shopify-admin` connection, whose access
//! token the host attaches), so the merchant sees it where they work.
//!
//! The runtime verifies `X-Shopify-Hmac-Sha256` (base64 HMAC-SHA256 of the raw
//! body) and de-duplicates on `X-Shopify-Webhook-Id` before this plugin runs;
//! the plugin maps Shopify's REST `Order` resource. The external id is the
//! Shopify order id, so a re-delivered order lands on the same aggregate.

use portitor_guest::{
    Event, HttpRequest, Identity, OrderStatus, PluginError, PushOutcome, PushSource, Severity, StatusUpdate, config,
    http,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

struct ShopifyOrders;

impl PushSource for ShopifyOrders {
    fn path() -> String {
        "/webhooks/shopify/orders".into()
    }

    fn handle(request: HttpRequest, _identity: Identity) -> Result<PushOutcome, PluginError> {
        if let Some(topic) = request.header("x-shopify-topic")
            && topic != "orders/create"
        {
            return Err(PluginError::InvalidInput(format!(
                "topic `{topic}` is not handled; subscribe this endpoint to orders/create only"
            )));
        }
        let order: ShopifyOrder = request.json()?;
        let external_id = order.id.to_string();
        portitor_guest::info!("Shopify order {} ({}) received", order.name, external_id);
        let event = Event::order(external_id, &to_order_model(&order))?;
        Ok(PushOutcome::events(vec![event]))
    }
}

portitor_guest::export_push_source!(ShopifyOrders);

impl OrderStatus for ShopifyOrders {
    /// Tags the order `portitor-<state>` and notes the reference or the
    /// findings: `PUT /admin/api/{version}/orders/{id}.json`.
    fn notify(update: StatusUpdate) -> Result<(), PluginError> {
        let Some(connection) = config::get("admin-connection") else {
            portitor_guest::debug!("no admin-connection configured; order {} is {}", update.external_id, update.state);
            return Ok(());
        };
        let version = config::get("api-version").unwrap_or_else(|| "2026-01".into());
        let problems: Vec<String> = update
            .findings
            .iter()
            .filter(|f| !matches!(f.severity, Severity::Info))
            .map(|f| format!("{}: {}", f.field, f.message))
            .collect();
        let mut note = format!("Portitor: {}", update.state);
        if let Some(reference) = &update.reference {
            note.push_str(&format!(" (warehouse reference {reference})"));
        }
        if !problems.is_empty() {
            note.push_str(&format!(" — {}", problems.join("; ")));
        }
        let body = json!({ "order": {
            "id": update.external_id.parse::<u64>().ok(),
            "tags": format!("portitor-{}", update.state),
            "note": note,
        }});
        http::Request::put(format!("/admin/api/{version}/orders/{}.json", update.external_id))
            .via(&connection)
            .json(&body)?
            .send()?
            .error_for_status()?;
        Ok(())
    }
}

portitor_guest::export_order_status!(ShopifyOrders);

#[derive(Deserialize)]
struct ShopifyOrder {
    id: u64,
    name: String,
    order_number: u64,
    email: Option<String>,
    phone: Option<String>,
    created_at: Option<String>,
    currency: String,
    #[serde(default)]
    taxes_included: bool,
    subtotal_price: Option<String>,
    total_tax: Option<String>,
    total_discounts: Option<String>,
    total_price: Option<String>,
    #[serde(default)]
    line_items: Vec<LineItem>,
    shipping_address: Option<Address>,
    billing_address: Option<Address>,
    #[serde(default)]
    shipping_lines: Vec<ShippingLine>,
    customer: Option<Customer>,
}

#[derive(Deserialize)]
struct LineItem {
    sku: Option<String>,
    name: Option<String>,
    title: Option<String>,
    quantity: u64,
    price: String,
    #[serde(default)]
    grams: u64,
    #[serde(default)]
    tax_lines: Vec<TaxLine>,
}

#[derive(Deserialize)]
struct TaxLine {
    rate: f64,
}

#[derive(Deserialize)]
struct Address {
    name: Option<String>,
    company: Option<String>,
    address1: Option<String>,
    address2: Option<String>,
    city: Option<String>,
    zip: Option<String>,
    province_code: Option<String>,
    country_code: Option<String>,
    phone: Option<String>,
}

#[derive(Deserialize)]
struct ShippingLine {
    title: Option<String>,
    code: Option<String>,
    price: Option<String>,
    carrier_identifier: Option<String>,
}

#[derive(Deserialize)]
struct Customer {
    first_name: Option<String>,
    last_name: Option<String>,
    email: Option<String>,
    phone: Option<String>,
}

/// Portitor's order model, borrowed from the Shopify order: serialized
/// straight from these structs, with no JSON tree in between (this runs on
/// every webhook).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OrderModel<'a> {
    order_number: String,
    display_name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    order_date: Option<&'a str>,
    currency: &'a str,
    taxes_included: bool,
    customer: CustomerModel<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    billing_address: Option<AddressModel<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    shipping_address: Option<AddressModel<'a>>,
    line_items: Vec<LineModel<'a>>,
    totals: TotalsModel<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    shipping_method: Option<ShippingMethodModel<'a>>,
}

#[derive(Serialize)]
struct CustomerModel<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    phone: Option<&'a str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LineModel<'a> {
    line_number: usize,
    sku: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    quantity: u64,
    unit_price: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    vat_rate: Option<f64>,
    weight_grams: u64,
}

#[derive(Serialize)]
struct TotalsModel<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    subtotal: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    shipping: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tax: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    discount: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    total: Option<&'a str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AddressModel<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    company: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    address1: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    address2: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    postal_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    city: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    region: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    country_code: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    phone: Option<&'a str>,
}

#[derive(Serialize)]
struct ShippingMethodModel<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    carrier: Option<&'a str>,
}

fn to_order_model(order: &ShopifyOrder) -> OrderModel<'_> {
    let customer = order.customer.as_ref();
    let customer_name = customer
        .map(|c| [c.first_name.as_deref(), c.last_name.as_deref()].into_iter().flatten().collect::<Vec<_>>().join(" "))
        .filter(|name| !name.is_empty());
    OrderModel {
        order_number: order.order_number.to_string(),
        display_name: &order.name,
        order_date: order.created_at.as_deref(),
        currency: &order.currency,
        taxes_included: order.taxes_included,
        customer: CustomerModel {
            name: customer_name,
            email: customer.and_then(|c| c.email.as_deref()).or(order.email.as_deref()),
            phone: customer.and_then(|c| c.phone.as_deref()).or(order.phone.as_deref()),
        },
        billing_address: order.billing_address.as_ref().map(address_model),
        shipping_address: order.shipping_address.as_ref().map(address_model),
        line_items: order
            .line_items
            .iter()
            .enumerate()
            .map(|(i, item)| LineModel {
                line_number: i + 1,
                sku: item.sku.as_deref().unwrap_or_default(),
                name: item.name.as_deref().or(item.title.as_deref()),
                quantity: item.quantity,
                unit_price: &item.price,
                vat_rate: item.tax_lines.first().map(|tax| tax.rate),
                weight_grams: item.grams,
            })
            .collect(),
        totals: TotalsModel {
            subtotal: order.subtotal_price.as_deref(),
            shipping: order.shipping_lines.iter().find_map(|line| line.price.as_deref()),
            tax: order.total_tax.as_deref(),
            discount: order.total_discounts.as_deref(),
            total: order.total_price.as_deref(),
        },
        shipping_method: order.shipping_lines.first().map(|line| ShippingMethodModel {
            name: line.title.as_deref(),
            code: line.code.as_deref(),
            carrier: line.carrier_identifier.as_deref(),
        }),
    }
}

fn address_model(address: &Address) -> AddressModel<'_> {
    AddressModel {
        name: address.name.as_deref(),
        company: address.company.as_deref(),
        address1: address.address1.as_deref(),
        address2: address.address2.as_deref(),
        // Shopify formats Swedish postcodes as "413 01"; warehouses want digits.
        postal_code: address.zip.as_ref().map(|zip| zip.replace(' ', "")),
        city: address.city.as_deref(),
        region: address.province_code.as_deref(),
        country_code: address.country_code.as_deref(),
        phone: address.phone.as_deref(),
    }
}
