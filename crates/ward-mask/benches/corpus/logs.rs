//! Application logs (key=value lines from several services) and nginx-style access logs.

use super::words::{AGENTS, CODES, LEVELS, MESSAGES, METHODS, PATHS, SERVICES};
use super::{Rng, Writer, secrets};

/// 20–60 application log lines from one minute of one deployment.
pub fn app_block(w: &mut Writer) {
    let hour = w.rng.below(24);
    let minute = w.rng.below(60);
    for _ in 0..w.rng.range(20, 60) {
        let stamp = format!(
            "2026-11-25T{hour:02}:{minute:02}:{:02}.{:03}Z",
            w.rng.below(60),
            w.rng.below(1000)
        );
        if w.secret_due() {
            let line = secrets::log_line(&mut w.rng, &stamp);
            w.push(&line);
            continue;
        }
        let line = app_line(&mut w.rng, &stamp);
        w.push(&line);
    }
}

fn app_line(rng: &mut Rng, stamp: &str) -> String {
    let level = rng.pick(LEVELS);
    let service = rng.pick(SERVICES);
    let msg = rng.pick(MESSAGES);
    let id = rng.uuid();
    match rng.below(4) {
        0 => format!(
            "{stamp} {level:<5} [{service}] {msg} request_id={id} method={} path={} status={} duration_ms={} bytes={}\n",
            rng.pick(METHODS),
            path(rng),
            rng.pick(CODES),
            rng.range(1, 2500),
            rng.range(0, 250_000)
        ),
        1 => format!(
            "{stamp} {level:<5} [{service}] {msg} order_id=ORD-2026-{:06} customer_id={} amount={} currency=EUR trace={}\n",
            rng.below(1_000_000),
            rng.range(1000, 999_999),
            rng.amount(),
            rng.hex(32)
        ),
        2 => format!(
            "{stamp} {level:<5} [{service}] {msg} job=reindex-{} took={}.{:03}s rows={} peer={}:{}\n",
            rng.below(100),
            rng.below(90),
            rng.below(1000),
            rng.range(0, 5_000_000),
            rng.ipv4(),
            rng.pick(&[5432, 6379, 8080, 9092])
        ),
        _ => format!(
            "{{\"ts\":\"{stamp}\",\"level\":\"{}\",\"service\":\"{service}\",\"msg\":\"{msg}\",\"request_id\":\"{id}\",\"span_id\":\"{}\",\"elapsed_us\":{}}}\n",
            level.to_ascii_lowercase(),
            rng.hex(16),
            rng.range(50, 900_000)
        ),
    }
}

/// A request path from the templates, with an id or a hex asset hash filled in.
fn path(rng: &mut Rng) -> String {
    let t = rng.pick(PATHS);
    t.replace("{id}", &rng.range(1, 9_999_999).to_string())
        .replace("{hex}", &rng.hex(8))
}

/// 20–80 access log lines (combined format with request time and upstream address).
pub fn access_block(w: &mut Writer) {
    let hour = w.rng.below(24);
    for _ in 0..w.rng.range(20, 80) {
        if w.secret_due() {
            let stamp = format!(
                "2026-11-25T{hour:02}:{:02}:{:02}.000Z",
                w.rng.below(60),
                w.rng.below(60)
            );
            let line = secrets::log_line(&mut w.rng, &stamp);
            w.push(&line);
            continue;
        }
        let rng = &mut w.rng;
        let line = format!(
            "{} - - [25/Nov/2026:{hour:02}:{:02}:{:02} +0000] \"{} {} HTTP/1.1\" {} {} \"{}\" \"{}\" rt={}.{:03} uct=0.001 upstream={}:8080 req={}\n",
            rng.ipv4(),
            rng.below(60),
            rng.below(60),
            rng.pick(METHODS),
            path(rng),
            rng.pick(CODES),
            rng.range(0, 80_000),
            rng.pick(&[
                "-",
                "https://shop.example.com/cart",
                "https://www.example.org/search?q=desk+lamp"
            ]),
            rng.pick(AGENTS),
            rng.below(3),
            rng.below(1000),
            rng.ipv4(),
            rng.hex(32)
        );
        w.push(&line);
    }
}
