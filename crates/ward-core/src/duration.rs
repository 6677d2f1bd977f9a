//! Durations in configuration: a string such as `"10s"`, `"500ms"`, `"5m"`, `"8h"` or `"30d"`.

use std::fmt;
use std::time::Duration;

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ConfigDuration(pub Duration);

impl ConfigDuration {
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        let split = s.find(|c: char| !c.is_ascii_digit())?;
        let (num, unit) = s.split_at(split);
        let n: u64 = num.parse().ok()?;
        let ms: u64 = match unit.trim() {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            _ => return None,
        };
        n.checked_mul(ms).map(|ms| Self(Duration::from_millis(ms)))
    }
}

impl<'de> Deserialize<'de> for ConfigDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = ConfigDuration;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration such as \"10s\", \"500ms\", \"5m\" or \"8h\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ConfigDuration, E> {
                ConfigDuration::parse(v).ok_or_else(|| {
                    E::custom(format!(
                        "`{v}` is not a duration (use e.g. \"10s\", \"500ms\", \"5m\", \"8h\", \"30d\")"
                    ))
                })
            }
        }
        d.deserialize_str(V)
    }
}

#[cfg(test)]
mod tests {
    use super::ConfigDuration;
    use std::time::Duration;

    #[test]
    fn parses_units() {
        assert_eq!(
            ConfigDuration::parse("10s"),
            Some(ConfigDuration(Duration::from_secs(10)))
        );
        assert_eq!(
            ConfigDuration::parse("250 ms"),
            Some(ConfigDuration(Duration::from_millis(250)))
        );
        assert_eq!(
            ConfigDuration::parse("8h"),
            Some(ConfigDuration(Duration::from_secs(8 * 3600)))
        );
        assert_eq!(ConfigDuration::parse("10"), None);
        assert_eq!(ConfigDuration::parse("soon"), None);
    }
}
