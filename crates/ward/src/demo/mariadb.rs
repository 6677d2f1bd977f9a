//! The demo's MySQL resource: a throwaway MariaDB holding the same `shop` tables and rows as
//! the demo's PostgreSQL, the account Ward logs in to it as, and the resource and grants that
//! reach it through Ward's MySQL listener.

use std::path::Path;

use ward_core::fs::write_private;
use ward_local::mariadb::{MariaDb, MariaDbOptions};

/// The resource's name, which a client gives as its database (`mariadb -D shop-mysql`).
pub const RESOURCE: &str = "shop-mysql";

/// The file, in the demo's directory, holding the password of Ward's account upstream.
const PASSWORD_FILE: &str = "shop-mysql.pw";

/// The PostgreSQL demo's `shop` (`super::SEED`) in MariaDB's dialect: `AUTO_INCREMENT` for
/// `serial`, `timestamp` (stored in UTC, like `timestamptz`) and MariaDB's `seq_1_to_40` for
/// `generate_series`.
const SEED: &str = r#"
CREATE DATABASE shop CHARACTER SET utf8mb4;
USE shop;
CREATE TABLE customers (
    id          int AUTO_INCREMENT PRIMARY KEY,
    name        varchar(100) NOT NULL,
    email       varchar(100) NOT NULL,
    card_number varchar(32) NOT NULL,
    created_at  timestamp NOT NULL DEFAULT current_timestamp
);
CREATE TABLE orders (
    id          int AUTO_INCREMENT PRIMARY KEY,
    customer_id int NOT NULL,
    amount      decimal(10, 2) NOT NULL,
    status      varchar(16) NOT NULL,
    created_at  timestamp NOT NULL DEFAULT current_timestamp,
    FOREIGN KEY (customer_id) REFERENCES customers (id)
);
INSERT INTO customers (name, email, card_number) VALUES
    ('Ada Lovelace',      'ada@example.com',      '4111 1111 1111 1111'),
    ('Alan Turing',       'alan@example.com',     '5555 5555 5555 4444'),
    ('Grace Hopper',      'grace@example.com',    '3782 822463 10005'),
    ('Edsger Dijkstra',   'edsger@example.com',   '6011 1111 1111 1117'),
    ('Barbara Liskov',    'barbara@example.com',  '4012 8888 8888 1881'),
    ('Donald Knuth',      'don@example.com',      '5105 1051 0510 5100'),
    ('Margaret Hamilton', 'margaret@example.com', '4222 2222 2222 2'),
    ('Ken Thompson',      'ken@example.com',      '3714 496353 98431');
INSERT INTO orders (customer_id, amount, status)
SELECT 1 + seq % 8, round(rand() * 200, 2), elt(1 + seq % 3, 'paid', 'shipped', 'refunded')
FROM seq_1_to_40;
"#;

/// Starts MariaDB, seeds `shop`, and makes the account `ward_app` (the rights the PostgreSQL
/// demo's `ward_app` has: rows only, no schema changes) with a new password, written to
/// `dir`. Call it from the thread the demo runs on: the server ends with that thread.
pub fn start(dir: &Path) -> anyhow::Result<MariaDb> {
    let server = MariaDb::start(&MariaDbOptions::default())?;
    server.sql(SEED)?;
    // Letters and digits only: safe inside the SQL string.
    let password = super::random_token(12)?;
    // With `skip-name-resolve`, `127.0.0.1` is the host Ward connects from (TCP, loopback).
    server.sql(&format!(
        "CREATE USER 'ward_app'@'127.0.0.1' IDENTIFIED BY '{password}';
         GRANT SELECT, INSERT, UPDATE, DELETE ON shop.* TO 'ward_app'@'127.0.0.1';"
    ))?;
    write_private(&dir.join(PASSWORD_FILE), password.as_bytes())?;
    Ok(server)
}

/// The `shop-mysql` resource and its grants: those of `shop`, `mask_client` for support too.
pub fn config(address: &str) -> String {
    format!(
        r#"
# The demo's MySQL resource: a throwaway MariaDB with the same shop data, reached through the
# MySQL listener (mariadb -u demo -D {RESOURCE} --ssl).
[[resources]]
name = "{RESOURCE}"
kind = "mysql"
address = "{address}"
database = "shop"             # the schema Ward selects upstream
user = "ward_app"
password_file = "{PASSWORD_FILE}"

[[grants]]
group = "dev"
resources = ["{RESOURCE}"]

[[grants]]
group = "support"
resources = ["{RESOURCE}"]
mask_client = true
"#
    )
}

/// The `mariadb` command that connects `user` with `password` through Ward's MySQL listener on
/// `port`, over TLS checked against Ward's certificate `ca`.
pub fn client_line(user: &str, password: &str, port: u16, ca: &Path) -> String {
    format!(
        "mariadb -h 127.0.0.1 -P {port} -u {user} -p{password} -D {RESOURCE} --ssl --ssl-ca={} --ssl-verify-server-cert",
        ca.display()
    )
}
