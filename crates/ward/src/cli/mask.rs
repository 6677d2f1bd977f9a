//! `ward mask test`: shows what the masking rules do to a text, for tuning them.

use std::io::{Read, Write};

use anyhow::bail;
use ward_config::Config;
use ward_mask::MaskReport;

/// Masks `input` with the configured rules (a named profile, or the default) and writes the
/// masked text to `out` and the count per rule to `summary`.
pub fn test(
    config: &Config,
    profile: Option<&str>,
    input: &mut impl Read,
    out: &mut impl Write,
    summary: &mut impl Write,
) -> anyhow::Result<()> {
    let masking = crate::serve::masking(config)?;
    let masker = match profile {
        None => masking.default_profile(),
        Some(name) => match masking.profile(name) {
            Some(m) => m,
            None => {
                let known: Vec<&str> = masking.profile_names().collect();
                bail!(
                    "no masking profile `{name}` (configured: {})",
                    if known.is_empty() {
                        "none".to_owned()
                    } else {
                        known.join(", ")
                    }
                );
            }
        },
    };
    let mut text = Vec::new();
    input.read_to_end(&mut text)?;
    let mut report = MaskReport::new();
    out.write_all(&masker.mask(&text, &mut report))?;
    out.flush()?;
    if report.is_empty() {
        writeln!(summary, "no matches")?;
    }
    for (rule, count) in report.iter() {
        writeln!(summary, "{rule}: {count}")?;
    }
    Ok(())
}
