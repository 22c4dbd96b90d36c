//! Uploads each order as a file to a warehouse's FTP folder, the way
//! Nordic 3PLs take files: written under a temporary name and renamed when
//! complete, so the warehouse never picks up half a file. The file is named
//! by the warehouse-facing reference (`{reference}.json`, or `.csv` for CSV
//! documents); one already there means the order was delivered before (a
//! retry, a restart), so nothing is written twice.
//!
//! Configuration: `connection` (default `warehouse`), `folder` (default `/in`).

use portitor_guest::ftp::Connection;
use portitor_guest::{PluginError, Receipt, Warehouse, WarehouseOrder, config};

struct WarehouseFtp;

impl Warehouse for WarehouseFtp {
    fn dispatch(order: WarehouseOrder, reference: String) -> Result<Receipt, PluginError> {
        let connection = Connection::named(&config::get("connection").unwrap_or_else(|| "warehouse".into()));
        let folder = config::get("folder").unwrap_or_else(|| "/in".into());
        let folder = folder.trim_end_matches('/');
        let extension = if order.content_type.contains("csv") { "csv" } else { "json" };
        let name = format!("{reference}.{extension}");
        if connection.list(folder)?.iter().any(|entry| entry.name == name) {
            return Ok(Receipt { warehouse_order_id: Some(name), message: "already delivered".into() });
        }
        let temporary = format!("{folder}/{reference}.tmp");
        connection.store(&temporary, &order.body)?;
        connection.rename(&temporary, &format!("{folder}/{name}"))?;
        portitor_guest::info!("delivered {name} to {folder}");
        Ok(Receipt { warehouse_order_id: Some(name), message: format!("uploaded to {folder}") })
    }
}

portitor_guest::export_warehouse!(WarehouseFtp);
