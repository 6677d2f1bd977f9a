//! Resident memory of the built-in masker: VmRSS before and after compiling the default config, after
//! masking text, cells and a short stream, after text that makes every rule run, and after masking and
//! streaming long credential values (Linux only: reads `/proc/self/status`).
//!
//! Run with `CARGO_TARGET_DIR=/work/target-mask cargo run --release -p ward-mask --example rss`.

use ward_mask::{ColumnRef, MaskReport, MaskingConfig, TokenKey};

/// The process's resident set size in KiB, or 0 where `/proc` is unavailable.
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

fn report(stage: &str, base: u64) {
    let now = rss_kib();
    println!(
        "{stage:<11} VmRSS {now:>7} KiB  (+{:>6} KiB over start)",
        now.saturating_sub(base)
    );
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let base = rss_kib();
    report("start", base);

    let key = TokenKey::new(b"32 random bytes from the secret store");
    let masking = MaskingConfig::default().compile(Some(&key))?;
    let masker = masking.default_profile();
    report("compiled", base);

    let mut rep = MaskReport::new();
    let line = "user alice@example.com paid with 4111 1111 1111 1111 using AKIAIOSFODNN7EXAMPLE, \
                password=hunter2";
    let masked = masker.mask_str(line, &mut rep);
    std::hint::black_box(&masked);
    for l in [
        "2024-01-15T12:30:45.123Z INFO GET /api/v1/orders 200 12ms",
        "DATABASE_URL=postgres://app:s3cr3t@db.internal:5432/app",
        "ghp_0123456789abcdefghijABCDEFGHIJ012345 and sk_live_51H8abcdefghijklmnop",
        "iban DE89 3704 0044 0532 0130 00, ssn 123-45-6789, aws_secret_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    ] {
        std::hint::black_box(masker.mask(l.as_bytes(), &mut rep));
    }
    report("mask", base);

    let plan = masker.plan_columns(&[
        ColumnRef::new(Some("public.users"), "id"),
        ColumnRef::new(Some("public.users"), "email"),
        ColumnRef::new(Some("public.users"), "note"),
    ]);
    for row in 0..1000u32 {
        let id = row.to_string();
        let email = format!("user{row}@example.com");
        std::hint::black_box(plan.mask_cell(0, id.as_bytes(), &mut rep));
        std::hint::black_box(plan.mask_cell(1, email.as_bytes(), &mut rep));
        std::hint::black_box(plan.mask_cell(2, b"paid 4111111111111111 ok", &mut rep));
    }
    report("cells", base);

    let mut stream = masker.stream();
    let mut out = Vec::new();
    for chunk in line.as_bytes().chunks(7).chain(std::iter::once(&b"\n"[..])) {
        stream.push_into(chunk, &mut out);
    }
    stream.finish_into(&mut out);
    std::hint::black_box(&out);
    report("stream", base);

    // Text that lets every rule run, so every deferred regex is built: the worst case.
    let every = "Authorization: Bearer abcdefghijklmnopqrstuvwxyz0123 \
                 jwt=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl \
                 -----BEGIN PRIVATE KEY-----\nMIIEowIBAAKCAQEA0Z3VS5JJcds3xfn\n";
    std::hint::black_box(masker.mask(every.as_bytes(), &mut rep));
    report("all rules", base);

    // Long values for the rules with long value runs (`auth_header`, `secret_value`, `url_password`),
    // masked whole and streamed, so their automata and caches see runs near their limits.
    let long = format!(
        "Authorization: Basic {} \nBearer {} \nDB_PASSWORD={} \nhttps://app:{}@db.internal/x\n",
        "é".repeat(3000),
        "t".repeat(4000),
        "p".repeat(250),
        "s@".repeat(120),
    );
    std::hint::black_box(masker.mask(long.as_bytes(), &mut rep));
    let mut stream = masker.stream();
    let mut out = Vec::new();
    for chunk in long.as_bytes().chunks(512) {
        stream.push_into(chunk, &mut out);
    }
    stream.finish_into(&mut out);
    std::hint::black_box(&out);
    report("long values", base);
    Ok(())
}
