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
use serde::Deserialize;
use serde_json::{Map, Value, json};

struct ShopifyOrders;

impl PushSource for ShopifyOrders {
    fn path() -> String {
        "/webhooks/shopify/orders".into()
    }

    fn handle(request: HttpRequest, _identity: Identity) -> Result<PushOutcome, PluginError> {
        if let Some(topic) = request.header("x-shopify-topic") {
            if topic != "orders/create" {
                return Err(PluginError::InvalidInput(format!(
                    "topic `{topic}` is not handled; subscribe this endpoint to orders/create only"
                )));
            }
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

fn to_order_model(order: &ShopifyOrder) -> Value {
    let customer_name = order
        .customer
        .as_ref()
        .map(|c| [c.first_name.as_deref(), c.last_name.as_deref()].into_iter().flatten().collect::<Vec<_>>().join(" "));
    let mut customer = Map::new();
    insert_opt(&mut customer, "name", customer_name.filter(|n| !n.is_empty()));
    insert_opt(
        &mut customer,
        "email",
        order.customer.as_ref().and_then(|c| c.email.clone()).or_else(|| order.email.clone()),
    );
    insert_opt(
        &mut customer,
        "phone",
        order.customer.as_ref().and_then(|c| c.phone.clone()).or_else(|| order.phone.clone()),
    );

    let line_items: Vec<Value> = order
        .line_items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let mut line = Map::new();
            line.insert("lineNumber".into(), json!(i + 1));
            line.insert("sku".into(), json!(item.sku.clone().unwrap_or_default()));
            insert_opt(&mut line, "name", item.name.clone().or_else(|| item.title.clone()));
            line.insert("quantity".into(), json!(item.quantity));
            line.insert("unitPrice".into(), json!(item.price));
            if let Some(tax) = item.tax_lines.first() {
                line.insert("vatRate".into(), json!(tax.rate));
            }
            line.insert("weightGrams".into(), json!(item.grams));
            Value::Object(line)
        })
        .collect();

    let shipping_total = order.shipping_lines.iter().filter_map(|l| l.price.as_deref()).next();
    let mut totals = Map::new();
    insert_opt(&mut totals, "subtotal", order.subtotal_price.clone());
    insert_opt(&mut totals, "shipping", shipping_total.map(str::to_string));
    insert_opt(&mut totals, "tax", order.total_tax.clone());
    insert_opt(&mut totals, "discount", order.total_discounts.clone());
    insert_opt(&mut totals, "total", order.total_price.clone());

    let mut model = Map::new();
    model.insert("orderNumber".into(), json!(order.order_number.to_string()));
    model.insert("displayName".into(), json!(order.name));
    insert_opt(&mut model, "orderDate", order.created_at.clone());
    model.insert("currency".into(), json!(order.currency));
    model.insert("taxesIncluded".into(), json!(order.taxes_included));
    model.insert("customer".into(), Value::Object(customer));
    if let Some(address) = &order.billing_address {
        model.insert("billingAddress".into(), address_model(address));
    }
    if let Some(address) = &order.shipping_address {
        model.insert("shippingAddress".into(), address_model(address));
    }
    model.insert("lineItems".into(), Value::Array(line_items));
    model.insert("totals".into(), Value::Object(totals));
    if let Some(line) = order.shipping_lines.first() {
        let mut method = Map::new();
        insert_opt(&mut method, "name", line.title.clone());
        insert_opt(&mut method, "code", line.code.clone());
        insert_opt(&mut method, "carrier", line.carrier_identifier.clone());
        model.insert("shippingMethod".into(), Value::Object(method));
    }
    Value::Object(model)
}

fn address_model(address: &Address) -> Value {
    let mut out = Map::new();
    insert_opt(&mut out, "name", address.name.clone());
    insert_opt(&mut out, "company", address.company.clone());
    insert_opt(&mut out, "address1", address.address1.clone());
    insert_opt(&mut out, "address2", address.address2.clone());
    // Shopify formats Swedish postcodes as "413 01"; warehouses want digits.
    insert_opt(&mut out, "postalCode", address.zip.as_ref().map(|z| z.replace(' ', "")));
    insert_opt(&mut out, "city", address.city.clone());
    insert_opt(&mut out, "region", address.province_code.clone());
    insert_opt(&mut out, "countryCode", address.country_code.clone());
    insert_opt(&mut out, "phone", address.phone.clone());
    Value::Object(out)
}

fn insert_opt(map: &mut Map<String, Value>, key: &str, value: Option<String>) {
    if let Some(value) = value {
        map.insert(key.into(), Value::String(value));
    }
}
