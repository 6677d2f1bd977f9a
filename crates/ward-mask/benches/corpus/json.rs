//! JSON API responses: pretty-printed list pages with nested objects, hex ids, checksums and base64
//! thumbnails (none of them secret), and compact one-line event documents.

use super::rng::BASE64;
use super::words::{CITIES, FIRST, LAST, PRODUCTS, STATUSES};
use super::{Rng, Writer, secrets};

/// A list page of 1–6 orders (pretty) or 5–20 events (one per line).
pub fn block(w: &mut Writer) {
    if w.rng.below(3) == 0 {
        for _ in 0..w.rng.range(5, 20) {
            let secret = w.secret_due().then(|| secrets::json_member(&mut w.rng));
            let doc = event(&mut w.rng, secret);
            w.push(&doc);
        }
        return;
    }
    let n = w.rng.range(1, 6);
    w.push("{\n  \"object\": \"list\",\n  \"data\": [\n");
    for i in 0..n {
        let secret = w.secret_due().then(|| secrets::json_member(&mut w.rng));
        let doc = order(&mut w.rng, secret);
        w.push(&doc);
        w.push(if i + 1 < n { ",\n" } else { "\n" });
    }
    let cursor = cursor(&mut w.rng);
    let tail = format!("  ],\n  \"has_more\": true,\n  \"next_cursor\": \"{cursor}\"\n}}\n");
    w.push(&tail);
}

fn order(rng: &mut Rng, secret: Option<String>) -> String {
    let created = 1_764_000_000 + rng.below(1_000_000);
    let mut items = Vec::new();
    for _ in 0..rng.range(1, 4) {
        items.push(format!(
            "        {{\"sku\": \"SKU-{:05}\", \"name\": \"{}\", \"qty\": {}, \"unit_price\": {}}}",
            rng.below(100_000),
            rng.pick(PRODUCTS),
            rng.range(1, 5),
            rng.range(199, 49_999)
        ));
    }
    let extra = secret.map_or(String::new(), |m| format!(",\n      {m}"));
    let thumb_len = rng.range(200, 900) as usize;
    let thumbnail = rng.chars(BASE64, thumb_len);
    format!(
        r#"    {{
      "id": "ord_{}",
      "object": "order",
      "created": {created},
      "updated_ms": {}{:03},
      "@timestamp": "2026-11-25T{}Z",
      "status": "{}",
      "amount": {{"value": {}, "currency": "EUR", "tax_rate": 0.19}},
      "customer": {{
        "id": "cus_{}",
        "name": "{} {}",
        "address": {{"line1": "Hauptstraße {}", "postal_code": "{:05}", "city": "{}", "country": "DE"}}
      }},
      "items": [
{}
      ],
      "metadata": {{
        "commit": "{}",
        "checksum": "sha256:{}",
        "etag": "W/\"{}\"",
        "thumbnail": "data:image/png;base64,iVBORw0KGgo{}="
      }}{extra}
    }}"#,
        rng.hex(24),
        created + rng.below(3600),
        rng.below(1000),
        rng.time(),
        rng.pick(STATUSES),
        rng.range(199, 250_000),
        rng.alnum(14),
        rng.pick(FIRST),
        rng.pick(LAST),
        rng.range(1, 200),
        rng.range(1000, 99_999),
        rng.pick(CITIES),
        items.join(",\n"),
        rng.hex(40),
        rng.hex(64),
        rng.hex(20),
        thumbnail,
    )
}

/// A compact event document, as an event bus or audit API returns them.
fn event(rng: &mut Rng, secret: Option<String>) -> String {
    let extra = secret.map_or(String::new(), |m| format!(",{m}"));
    format!(
        "{{\"event_id\":\"{}\",\"type\":\"order.{}\",\"ts\":\"2026-11-25T{}.{:03}Z\",\"actor\":{{\"id\":{},\"name\":\"{} {}\",\"roles\":[\"staff\",\"support\"]}},\"data\":{{\"order_no\":\"ORD-2026-{:06}\",\"total\":{},\"items\":{},\"warehouse\":\"{}\"}},\"trace\":{{\"trace_id\":\"{}\",\"span_id\":\"{}\",\"sampled\":true}}{extra}}}\n",
        rng.uuid(),
        rng.pick(STATUSES),
        rng.time(),
        rng.below(1000),
        rng.range(1, 99_999),
        rng.pick(FIRST),
        rng.pick(LAST),
        rng.below(1_000_000),
        rng.amount(),
        rng.range(1, 9),
        rng.pick(CITIES),
        rng.hex(32),
        rng.hex(16),
    )
}

/// An opaque pagination cursor: base64 of a small JSON object (starts with `eyJ`, like a JWT does).
fn cursor(rng: &mut Rng) -> String {
    let raw = format!(
        r#"{{"id":{},"ts":{}}}"#,
        rng.below(10_000_000),
        rng.below(1_000_000)
    );
    let mut out = String::new();
    for chunk in raw.as_bytes().chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            out.push(match i <= chunk.len() {
                true => char::from(BASE64[(n >> (18 - 6 * i) & 63) as usize]),
                false => '=',
            });
        }
    }
    out
}
