//! UTC timestamps with nanosecond precision, stored as integers and shown as RFC 3339.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Nanoseconds since the Unix epoch, UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

impl Timestamp {
    pub fn now() -> Self {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        Self(i64::try_from(nanos).unwrap_or(i64::MAX))
    }

    /// Whole seconds since the Unix epoch (0 before it), as SSH certificates count time.
    pub fn unix_seconds(self) -> u64 {
        u64::try_from(self.0.div_euclid(1_000_000_000)).unwrap_or(0)
    }

    /// The start of second `seconds` after the Unix epoch.
    pub fn from_unix_seconds(seconds: u64) -> Self {
        Self(i64::try_from(seconds).map_or(i64::MAX, |s| s.saturating_mul(1_000_000_000)))
    }

    /// Parses an RFC 3339 time such as `2026-11-25T10:00:00Z`.
    pub fn parse_rfc3339(s: &str) -> Result<Self, time::error::Parse> {
        let t = OffsetDateTime::parse(s, &Rfc3339)?;
        Ok(Self(
            i64::try_from(t.unix_timestamp_nanos()).unwrap_or(i64::MAX),
        ))
    }

    pub fn to_rfc3339(self) -> String {
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(self.0))
            .ok()
            .and_then(|t| t.format(&Rfc3339).ok())
            .unwrap_or_else(|| self.0.to_string())
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_round_trip_keeps_nanoseconds() {
        let t = Timestamp::parse_rfc3339("2026-11-25T10:00:00.123456789Z").expect("parses");
        assert_eq!(t.to_rfc3339(), "2026-11-25T10:00:00.123456789Z");
    }

    #[test]
    fn unix_seconds_round_trip_and_floor() {
        let t = Timestamp::parse_rfc3339("2026-11-25T10:00:00.999Z").expect("parses");
        assert_eq!(t.unix_seconds(), 1_795_600_800);
        assert_eq!(
            Timestamp::from_unix_seconds(t.unix_seconds()).to_rfc3339(),
            "2026-11-25T10:00:00Z"
        );
        assert_eq!(Timestamp(-1).unix_seconds(), 0);
    }

    #[test]
    fn rejects_garbage() {
        assert!(Timestamp::parse_rfc3339("yesterday").is_err());
    }
}
