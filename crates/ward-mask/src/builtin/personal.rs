//! Personal and financial data: payment cards, IBANs, US SSNs, email addresses.

use super::{Builtin, BuiltinTarget};
use crate::prefilter::Hint;
use crate::shape::Shape;
use crate::validate::Validator;

pub(crate) const BUILTINS: &[Builtin] = &[
    Builtin {
        name: "card",
        // 13–19 digits, contiguous or in the printed groupings (4-4-4-4[-3], 4-6-5, 4-6-4) with single
        // spaces or dashes. Luhn, the digit count and a 2–6 first digit are checked by the validator.
        pattern: concat!(
            r"(?-u:\b)(?:[0-9]{13,19}",
            r"|[0-9]{4}(?:[ -][0-9]{4}){2}[ -][0-9]{1,4}(?:[ -][0-9]{1,3})?",
            r"|[0-9]{4}[ -][0-9]{6}[ -][0-9]{4,5})(?-u:\b)"
        ),
        validator: Validator::Card,
        target: BuiltinTarget::Whole,
        on_by_default: true,
        runs: None,
        hint: Hint::Shape(Shape::CardDigits),
    },
    Builtin {
        name: "iban",
        // Compact (DE89370400440532013000) or printed in groups of four; mod-97 decides.
        pattern: concat!(
            r"(?-u:\b)(?:[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}",
            r"|[A-Z]{2}[0-9]{2}(?: [A-Z0-9]{4}){2,7}(?: [A-Z0-9]{1,3})?)(?-u:\b)"
        ),
        validator: Validator::Iban,
        target: BuiltinTarget::Whole,
        on_by_default: true,
        runs: None,
        hint: Hint::Shape(Shape::IbanStart),
    },
    Builtin {
        name: "ssn",
        // AAA-GG-SSSS only: undashed nine-digit numbers are too often something else.
        pattern: r"(?-u:\b)[0-9]{3}-[0-9]{2}-[0-9]{4}(?-u:\b)",
        validator: Validator::Ssn,
        target: BuiltinTarget::Whole,
        on_by_default: true,
        runs: None,
        hint: Hint::Shape(Shape::DashedDigits),
    },
    Builtin {
        name: "email",
        pattern: concat!(
            r"(?-u:\b)[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@",
            r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.){1,8}[A-Za-z]{2,24}(?-u:\b)"
        ),
        validator: Validator::None,
        target: BuiltinTarget::Whole,
        on_by_default: true,
        runs: None,
        hint: Hint::Shape(Shape::At),
    },
];
