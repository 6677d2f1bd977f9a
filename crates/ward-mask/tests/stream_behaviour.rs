//! Streaming behaviour a terminal or HTTP proxy relies on: prompt output, held-back partial secrets,
//! bounded memory, invalid UTF-8, reports.

use ward_mask::{MaskReport, Masker};

fn builtin() -> Masker {
    Masker::builtin().expect("built-ins compile")
}

#[test]
fn clean_output_is_emitted_at_once() {
    let mut s = builtin().stream();
    assert_eq!(
        s.push(b"total 48\ndrwxr-xr-x 2 alice staff 64 Jan 15 12:30 src\n"),
        b"total 48\ndrwxr-xr-x 2 alice staff 64 Jan 15 12:30 src\n"
    );
    // A prompt without a trailing newline is not held either.
    assert_eq!(s.push(b"alice@host:~$ "), b"alice@host:~$ ");
    assert_eq!(s.held(), 0);
}

#[test]
fn partial_secret_is_held_until_it_resolves() {
    let mut s = builtin().stream();
    let first = s.push(b"card: 4111 1111 ");
    assert_eq!(first, b"card: ");
    assert_eq!(s.push(b"1111 11"), b"");
    let rest = s.push(b"11 ok\n");
    assert_eq!([first, rest].concat(), b"card: [REDACTED:card] ok\n");
    assert_eq!(s.take_report().count("card"), 1);
    assert!(s.take_report().is_empty());
}

#[test]
fn look_alike_is_released_when_it_fails_validation() {
    let mut s = builtin().stream();
    let mut out = s.push(b"order 4111 1111 1111 1112");
    out.extend(s.push(b" shipped\n"));
    assert_eq!(out, b"order 4111 1111 1111 1112 shipped\n");
}

#[test]
fn pem_block_split_into_lines_is_masked_whole() {
    let key = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBkg4LVWM9nuwNSk3yByxZpYRTBnVJk5oZJxYh0ZEi4DoAoGCCqGSM49\nAwEHoUQDQgAE8xOUetsCa8EfOlDEBAfREhJqspDoyEh6Szz2in47Tv5n52m9dLYy\n-----END EC PRIVATE KEY-----\n";
    let mut s = builtin().stream();
    let mut out = s.push(b"$ cat key.pem\n");
    for line in key.split_inclusive('\n') {
        let emitted = s.push(line.as_bytes());
        assert!(
            !String::from_utf8_lossy(&emitted).contains("MHcC"),
            "leaked {emitted:?}"
        );
        out.extend(emitted);
    }
    out.extend(s.push(b"$ "));
    out.extend(s.finish());
    assert_eq!(
        String::from_utf8_lossy(&out),
        "$ cat key.pem\n[REDACTED:private_key]\n$ "
    );
}

#[test]
fn unterminated_pem_is_held_at_most_the_bound_and_stays_masked() {
    let mut s = builtin().stream();
    let mut out = s.push(b"-----BEGIN PRIVATE KEY-----\n");
    let line = [b'A'; 64];
    for _ in 0..400 {
        out.extend(s.push(&line));
        out.extend(s.push(b"\n"));
        assert!(s.held() <= 17 * 1024, "held {}", s.held());
    }
    out.extend(s.finish());
    let text = String::from_utf8_lossy(&out);
    assert!(
        text.starts_with("[REDACTED:private_key]"),
        "{}",
        &text[..40]
    );
    // 160 lines are masked with the header; what follows the bound passes (see the crate docs).
    let whole = builtin()
        .mask(
            &[
                &b"-----BEGIN PRIVATE KEY-----\n"[..],
                &[line.as_slice(), b"\n"].concat().repeat(400),
            ]
            .concat(),
            &mut MaskReport::new(),
        )
        .into_owned();
    assert_eq!(out, whole);
}

#[test]
fn invalid_utf8_passes_through_and_separates() {
    let mut s = builtin().stream();
    let mut out = s.push(b"\xff\xfeAKIAIOSFODNN7EX");
    out.extend(s.push(b"AMPLE\x80 \xc3"));
    out.extend(s.finish());
    assert_eq!(out, b"\xff\xfe[REDACTED:aws_access_key]\x80 \xc3");
}

#[test]
fn finish_resets_for_a_new_stream() {
    let mut s = builtin().stream();
    assert_eq!(s.push(b"ghp_0123456789"), b"");
    assert_eq!(s.finish(), b"ghp_0123456789");
    let mut out = s.push(b"ghp_0123456789abcdefghijABCDEFGHIJ012345\n");
    out.extend(s.finish());
    assert_eq!(out, b"[REDACTED:github_token]\n");
}
