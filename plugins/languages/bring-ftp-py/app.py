"""bring-ftp in Python: Bring's order files (semicolon-separated, one line
per order line) from an FTP or SFTP drop folder into Portitor's order model,
with the folder's state in the cursor -- the same events and cursor as the
Rust `plugins/bring-ftp` from the same folder (tests/languages.rs compares
them). Built with componentize-py for the `pull-source` world."""

import json
import re

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import config, crypto, cursor, ftp, log, types

REQUIRED = [
    "order_number", "order_date", "shop_code", "currency", "line_no", "sku", "quantity", "unit_price",
    "recipient_name", "address1", "postal_code", "city", "country_code",
]
WHOLE = re.compile(r"\+?[0-9]+")
SIGNED = re.compile(r"[+-]?[0-9]+")


class CsvError(Exception):
    """Why a file cannot be read: it is skipped until it changes."""


class PullHandler(exports.PullHandler):
    def schedule(self) -> str:
        return "0 */5 * * * *"

    def cursor_key(self) -> str:
        return "cursor"

    def fetch(self, cursor_text):
        try:
            return fetch(cursor_text)
        except Err as error:
            if isinstance(error.value, ftp.FtpError_Timeout):
                raise Err(types.PluginError_Transient("the FTP server did not answer in time"))
            raise Err(types.PluginError_Transient(f"ftp: {getattr(error.value, 'value', error.value)}"))


def fetch(cursor_text):
    connection = config.get("connection") or "drop-folder"
    folder = (config.get("folder") or "/in").rstrip("/")
    max_files = int(config.get("max-files") or 50)
    archive = config.get("archive-folder")
    files = parse_cursor(cursor_text)

    listed = [e for e in ftp.list(connection, folder) if not e.is_dir and e.name.lower().endswith(".csv")]
    listed.sort(key=lambda f: (f.modified is not None, f.modified or 0, f.name))
    times = [f.modified for f in listed if f.modified is not None]
    newest = max(times) if times else None
    names = {f.name for f in listed}
    files = {name: record for name, record in files.items() if name in names}

    events, read, has_more = [], 0, False
    for file in listed:
        seen = files.get(file.name)
        if seen is not None and not (seen["size"] != file.size or seen["modified"] != file.modified
                                     or file.modified is None or not seen["settled"]):
            continue
        if read == max_files:
            has_more = True
            break
        read += 1
        path = f"{folder}/{file.name}"
        data = ftp.retrieve(connection, path)
        sha256 = crypto.sha256(data).hex()
        file_events, error = [], None
        if seen is None or seen["sha256"] != sha256:
            try:
                file_events = from_csv(file.name, data)
            except CsvError as failure:
                log.write(log.Level.ERROR, f"{path}: {failure}; the file is skipped until it changes")
                error = str(failure)
        log.write(log.Level.INFO, f"{path}: {len(file_events)} orders")
        settled = file.modified is not None and newest is not None and file.modified < newest
        record = {"size": file.size, "modified": file.modified, "sha256": sha256, "settled": settled}
        if error is not None:
            record["error"] = error
        files[file.name] = record
        if archive is not None and file_events:
            pending, events = events + file_events, []
            cursor.checkpoint(pending, cursor_json(files))
            ftp.make_dir(connection, archive)
            ftp.rename(connection, path, f"{archive.rstrip('/')}/{file.name}")
            del files[file.name]
        else:
            events.extend(file_events)
    return types.Batch(events=events, next_cursor=cursor_json(files), has_more=has_more)


def parse_cursor(text):
    if not text:
        return {}
    try:
        return dict(json.loads(text)["files"])
    except (ValueError, KeyError, TypeError) as error:
        raise Err(types.PluginError_Fatal(f"the cursor is not a bring-ftp cursor: {error}"))


def cursor_json(files):
    return json.dumps({"files": dict(sorted(files.items()))}, separators=(",", ":"))


def parse_rows(text):
    """Semicolon-separated rows; fields may be quoted (`""` is a quote)."""
    rows, row, field, quoted, line, i = [], [], [], False, 1, 0
    while i < len(text):
        c = text[i]
        i += 1
        if quoted:
            if c == '"' and i < len(text) and text[i] == '"':
                i += 1
                field.append('"')
            elif c == '"':
                quoted = False
            else:
                line += c == "\n"
                field.append(c)
            continue
        if c == '"' and not field:
            quoted = True
        elif c == '"':
            raise CsvError(f"line {line}: a quote inside an unquoted field")
        elif c == ";":
            row.append("".join(field))
            field = []
        elif c == "\r" and i < len(text) and text[i] == "\n":
            pass
        elif c == "\n":
            row.append("".join(field))
            rows.append(row)
            field, row, line = [], [], line + 1
        else:
            field.append(c)
    if quoted:
        raise CsvError(f"line {line}: a quoted field is not closed")
    if field or row:
        row.append("".join(field))
        rows.append(row)
    return [r for r in rows if not (len(r) == 1 and r[0] == "")]


def cents(decimal):
    whole, _, fraction = decimal.partition(".")
    if len(fraction) > 2 or not whole or not SIGNED.fullmatch(whole):
        return None
    padded = fraction.ljust(2, "0")
    if fraction and not SIGNED.fullmatch(padded):
        return None
    part = int(padded) if fraction else 0
    return int(whole) * 100 + (-part if int(whole) < 0 else part)


def format_cents(amount):
    sign = -1 if amount < 0 else 1
    return f"{sign * (abs(amount) // 100)}.{abs(amount) % 100:02d}"


def from_csv(file, data):
    try:
        text = bytes(data).decode("utf-8")
    except UnicodeDecodeError:
        raise CsvError("not UTF-8")
    rows = parse_rows(text.removeprefix("\ufeff"))
    if not rows:
        raise CsvError("empty file")
    header, rows = rows[0], rows[1:]
    column = {name.strip(): i for i, name in enumerate(header)}
    for name in REQUIRED:
        if name not in column:
            raise CsvError(f"the header lacks column `{name}`")

    def get(row, name):
        i = column.get(name)
        return row[i].strip() if i is not None and i < len(row) else ""

    lines = {}
    for i, row in enumerate(rows):
        if len(row) != len(header):
            raise CsvError(f"row {i + 2}: {len(row)} fields, the header has {len(header)}")
        number = get(row, "order_number")
        if not number:
            raise CsvError(f"row {i + 2}: order_number is empty")
        lines.setdefault(number, []).append(row)

    events = []
    for number, order_rows in lines.items():
        first = order_rows[0]
        line_items, subtotal = [], 0
        for row in order_rows:
            quantity, line_no, unit_price = get(row, "quantity"), get(row, "line_no"), get(row, "unit_price")
            if not WHOLE.fullmatch(quantity):
                raise CsvError(f"order {number}: quantity `{quantity}` is not a whole number")
            if not WHOLE.fullmatch(line_no):
                raise CsvError(f"order {number}: line_no `{line_no}` is not a whole number")
            price = cents(unit_price)
            if price is None:
                raise CsvError(f"order {number}: unit_price `{unit_price}` is not a decimal")
            subtotal += price * int(quantity)
            line = {"lineNumber": int(line_no), "sku": get(row, "sku"), "quantity": int(quantity),
                    "unitPrice": unit_price}
            try:
                line["vatRate"] = float(get(row, "vat_rate"))
            except ValueError:
                pass
            line_items.append(line)
        address = {}
        for key, name in [("name", "recipient_name"), ("company", "recipient_company"), ("address1", "address1"),
                          ("address2", "address2"), ("postalCode", "postal_code"), ("city", "city"),
                          ("countryCode", "country_code"), ("phone", "phone"), ("email", "email")]:
            if get(first, name):
                address[key] = get(first, name)
        customer = {"name": get(first, "recipient_name")}
        for key in ["email", "phone"]:
            if get(first, key):
                customer[key] = get(first, key)
        model = {
            "orderNumber": number, "orderDate": get(first, "order_date"), "currency": get(first, "currency"),
            "taxesIncluded": True, "customer": customer, "shippingAddress": address, "lineItems": line_items,
            "totals": {"subtotal": format_cents(subtotal), "total": format_cents(subtotal)},
        }
        service = get(first, "carrier_service")
        if service:
            carrier, _, product = service.partition("_")
            method = {"code": service, "carrier": carrier}
            if product:
                method["service"] = product
            if get(first, "pickup_point_id"):
                method["pickupPointId"] = get(first, "pickup_point_id")
            model["shippingMethod"] = method
        if get(first, "delivery_instruction"):
            model["deliveryInstruction"] = get(first, "delivery_instruction")
        model["metadata"] = {"shopCode": get(first, "shop_code"), "sourceFile": file}
        events.append(types.Event(kind="order", external_id=number, payload=json.dumps(model),
                                  validation_mode=None, warehouse_id=None))
    return events
