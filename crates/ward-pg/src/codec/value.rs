//! Rendering of parameter and cell values as text for the record: text-format values as they
//! are, binary-format values of common types decoded, anything else as `\x` hex.

use std::borrow::Cow;
use std::fmt::Write;

pub mod oid {
    pub const BOOL: u32 = 16;
    pub const BYTEA: u32 = 17;
    pub const NAME: u32 = 19;
    pub const INT8: u32 = 20;
    pub const INT2: u32 = 21;
    pub const INT4: u32 = 23;
    pub const TEXT: u32 = 25;
    pub const OID: u32 = 26;
    pub const JSON: u32 = 114;
    pub const FLOAT4: u32 = 700;
    pub const FLOAT8: u32 = 701;
    pub const BPCHAR: u32 = 1042;
    pub const VARCHAR: u32 = 1043;
    pub const DATE: u32 = 1082;
    pub const TIMESTAMP: u32 = 1114;
    pub const TIMESTAMPTZ: u32 = 1184;
    pub const UUID: u32 = 2950;
    pub const JSONB: u32 = 3802;
}

/// Days from 1970-01-01 to PostgreSQL's epoch, 2000-01-01.
const PG_EPOCH_DAYS: i64 = 10_957;

/// True for types whose text form no detector can match: short integers, booleans, floats,
/// dates, times and UUIDs (an `int8` can hold a card number, so it is not among them).
pub fn cannot_hold_secrets(type_oid: u32) -> bool {
    matches!(
        type_oid,
        oid::BOOL
            | oid::INT2
            | oid::INT4
            | oid::OID
            | oid::FLOAT4
            | oid::FLOAT8
            | oid::DATE
            | oid::TIMESTAMP
            | oid::TIMESTAMPTZ
            | oid::UUID
    )
}

/// True for types whose binary format is their text (so masked text can stand in for it).
pub fn is_text_type(type_oid: u32) -> bool {
    matches!(
        type_oid,
        oid::TEXT | oid::VARCHAR | oid::BPCHAR | oid::NAME | oid::JSON
    )
}

/// A value as text. `format` is 0 for text, 1 for binary.
pub fn render(type_oid: u32, format: i16, bytes: &[u8]) -> Cow<'_, str> {
    if format == 0 {
        return String::from_utf8_lossy(bytes);
    }
    binary(type_oid, bytes)
        .map(Cow::Owned)
        .unwrap_or_else(|| Cow::Owned(hex(bytes)))
}

fn binary(type_oid: u32, b: &[u8]) -> Option<String> {
    Some(match type_oid {
        oid::BOOL => match b {
            [0] => "f".into(),
            [_] => "t".into(),
            _ => return None,
        },
        oid::INT2 => i16::from_be_bytes(b.try_into().ok()?).to_string(),
        oid::INT4 => i32::from_be_bytes(b.try_into().ok()?).to_string(),
        oid::OID => u32::from_be_bytes(b.try_into().ok()?).to_string(),
        oid::INT8 => i64::from_be_bytes(b.try_into().ok()?).to_string(),
        oid::FLOAT4 => f32::from_be_bytes(b.try_into().ok()?).to_string(),
        oid::FLOAT8 => f64::from_be_bytes(b.try_into().ok()?).to_string(),
        oid::TEXT | oid::VARCHAR | oid::BPCHAR | oid::NAME | oid::JSON => {
            std::str::from_utf8(b).ok()?.to_owned()
        }
        oid::JSONB => match b.split_first() {
            Some((1, rest)) => std::str::from_utf8(rest).ok()?.to_owned(),
            _ => return None,
        },
        oid::UUID => uuid_text(b.try_into().ok()?),
        oid::DATE => {
            let days = i64::from(i32::from_be_bytes(b.try_into().ok()?)) + PG_EPOCH_DAYS;
            time::Date::from_julian_day(i32::try_from(days + 2_440_588).ok()?)
                .ok()?
                .to_string()
        }
        oid::TIMESTAMP | oid::TIMESTAMPTZ => {
            let micros = i64::from_be_bytes(b.try_into().ok()?);
            let nanos = (i128::from(micros) + i128::from(PG_EPOCH_DAYS) * 86_400_000_000) * 1000;
            let t = time::OffsetDateTime::from_unix_timestamp_nanos(nanos).ok()?;
            let s = t
                .format(&time::format_description::well_known::Rfc3339)
                .ok()?;
            if type_oid == oid::TIMESTAMP {
                s.trim_end_matches('Z').replace('T', " ")
            } else {
                s
            }
        }
        _ => return None,
    })
}

fn uuid_text(b: [u8; 16]) -> String {
    let h = hex_plain(&b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

fn hex_plain(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len() * 2);
    for byte in b {
        let _ = write!(s, "{byte:02x}");
    }
    s
}

/// `\x`-prefixed hex, PostgreSQL's bytea output format.
pub fn hex(b: &[u8]) -> String {
    format!("\\x{}", hex_plain(b))
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)] // Tests index fixtures they built themselves.
mod tests {
    use super::*;

    #[test]
    fn binary_values() {
        assert_eq!(render(oid::INT4, 1, &42i32.to_be_bytes()), "42");
        assert_eq!(render(oid::INT8, 1, &(-7i64).to_be_bytes()), "-7");
        assert_eq!(render(oid::BOOL, 1, &[1]), "t");
        assert_eq!(render(oid::DATE, 1, &0i32.to_be_bytes()), "2000-01-01");
        assert_eq!(
            render(oid::TIMESTAMPTZ, 1, &86_400_000_000i64.to_be_bytes()),
            "2000-01-02T00:00:00Z"
        );
        assert_eq!(
            render(oid::UUID, 1, &[0xab; 16]),
            "abababab-abab-abab-abab-abababababab"
        );
        // Wrong length for the type falls back to hex, never panics.
        assert_eq!(render(oid::INT4, 1, &[1, 2]), "\\x0102");
        assert_eq!(render(oid::BYTEA, 1, &[0xde, 0xad]), "\\xdead");
        assert_eq!(render(oid::TEXT, 0, b"plain"), "plain");
    }
}
