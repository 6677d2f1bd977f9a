//! Network addresses. Off by default: addresses are everywhere in infrastructure output and usually not
//! secret; enable them per config where they are.

use super::{Builtin, BuiltinTarget};
use crate::prefilter::Hint;
use crate::shape::Shape;
use crate::validate::Validator;

pub(crate) const BUILTINS: &[Builtin] = &[
    Builtin {
        name: "ipv4",
        pattern: concat!(
            r"(?-u:\b)(?:(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])\.){3}",
            r"(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])(?-u:\b)"
        ),
        validator: Validator::None,
        target: BuiltinTarget::Whole,
        on_by_default: false,
        runs: None,
        hint: Hint::Shape(Shape::DottedDigits),
    },
    Builtin {
        name: "ipv6",
        // A loose colon-hex shape (not preceded by a word character, `:` or `.`), confirmed by parsing.
        pattern: r"(?i)(?:^|[^0-9a-z_:.])((?:[0-9a-f]{0,4}:){2,7}[0-9a-f]{0,4})",
        validator: Validator::Ipv6,
        target: BuiltinTarget::Value,
        on_by_default: false,
        runs: None,
        hint: Hint::Shape(Shape::Colon),
    },
];
