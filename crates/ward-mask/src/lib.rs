//! Ward's masking engine: detectors, rule sets, and the streaming and cell maskers. No I/O.
//!
//! Masking runs before any event is persisted (docs/masking.md). A [`MaskingConfig`] (the
//! `[masking]` TOML table) compiles into a [`Masking`]: one [`Masker`] per profile. A masker masks whole
//! buffers ([`Masker::mask`], [`Masker::mask_str`]), byte streams chunk by chunk ([`StreamMasker`]) and
//! database cells by column ([`CellPlan`]). Every call adds to a [`MaskReport`] — rule names and
//! counts, never values — for the `mask.applied` event.
//!
//! ```
//! use ward_mask::{MaskReport, MaskingConfig, TokenKey};
//!
//! let config: MaskingConfig = toml::from_str(r#"
//!     replacements = { card = "partial", email = "token" }
//!     [[columns]]
//!     column = "*password*"
//! "#).unwrap();
//! let masking = config.compile(Some(&TokenKey::new(b"32 random bytes from the secret store"))).unwrap();
//! let masker = masking.default_profile();
//!
//! let mut report = MaskReport::new();
//! let out = masker.mask_str("card 4111 1111 1111 1111, AKIAIOSFODNN7EXAMPLE", &mut report);
//! assert_eq!(out, "card **** **** **** 1111, [REDACTED:aws_access_key]");
//! assert_eq!(report.count("card"), 1);
//!
//! // A secret split across chunks is still masked; output equals masking the whole input.
//! let mut stream = masker.stream();
//! let mut shown = stream.push(b"gh auth: ghp_0123456789abcdef");
//! shown.extend(stream.push(b"0123456789abcdefghij done\n"));
//! shown.extend(stream.finish());
//! assert_eq!(shown, b"gh auth: [REDACTED:github_token] done\n");
//! ```
//!
//! # Built-in detectors
//! `private_key`, `url_password`, `auth_header`, `aws_access_key`, `aws_secret_key`, `github_token`,
//! `gitlab_token`, `slack_token`, `stripe_key`, `google_api_key`, `ai_api_key`, `jwt`, `sql_password`, `secret_value`,
//! `card`, `iban`, `ssn`, `email`; off by default: `ipv4`, `ipv6`. Overlapping matches resolve to the
//! one starting first, then the longer, then the earlier in this list.

mod builtin;
mod cells;
mod compile;
mod config;
mod engine;
mod error;
mod glob;
mod masker;
mod pem;
mod prefilter;
mod replace;
mod report;
mod rule;
mod run;
mod search;
mod shape;
mod stream;
mod swar;
mod tail;
mod token;
mod validate;

pub use cells::{CellPlan, ColumnRef};
pub use compile::Masking;
pub use config::{
    ColumnRuleConfig, GroupRef, MaskingConfig, ProfileConfig, RuleConfig, ValidatorName,
};
pub use error::ConfigError;
pub use glob::glob_match;
pub use masker::{Masker, MissingRules};
pub use replace::Replacement;
pub use report::MaskReport;
pub use rule::{MAX_MATCH_LEN, RuleError};
pub use stream::StreamMasker;
pub use token::TokenKey;
