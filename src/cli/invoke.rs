//! Typed values on the command line for `run --invoke`.

use crate::runtime::value::{Val, ValType};
use wast::parser::{self, ParseBuffer};

fn parse_token<'a, T: wast::parser::Parse<'a>>(buf: &'a ParseBuffer<'a>) -> Option<T> {
    parser::parse::<T>(buf).ok()
}

/// Parses `text` as a value of type `ty`. Integers: decimal or `0x` hex, negative or (for
/// convenience) unsigned up to the type's bit width; floats: decimal, hex floats (`0x1.8p3`),
/// `inf`, `-inf`, `nan`, `nan:0x...`; a `v128`: one unsigned 128-bit integer (lane 0 in its
/// least significant bits), decimal or `0x` hex, as `run --invoke` prints one.
pub fn parse_val(ty: ValType, text: &str) -> Result<Val, String> {
    let bad = || format!("invalid {ty} value {text:?}");
    let buf = ParseBuffer::new(text).map_err(|_| bad())?;
    Ok(match ty {
        ValType::I32 => Val::I32(parse_token::<i32>(&buf).ok_or_else(bad)?),
        ValType::I64 => Val::I64(parse_token::<i64>(&buf).ok_or_else(bad)?),
        ValType::F32 => Val::F32(parse_token::<wast::token::F32>(&buf).ok_or_else(bad)?.bits),
        ValType::F64 => Val::F64(parse_token::<wast::token::F64>(&buf).ok_or_else(bad)?.bits),
        ValType::V128 => {
            let (digits, radix) = match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
                Some(hex) => (hex, 16),
                None => (text, 10),
            };
            // Digits and `_` separators only (`from_str_radix` would take a sign).
            let digits = digits.replace('_', "");
            if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
                return Err(bad());
            }
            Val::V128(u128::from_str_radix(&digits, radix).map_err(|_| bad())?)
        }
        ValType::FuncRef | ValType::ExternRef | ValType::ExnRef => {
            if text == "null" {
                Val::default_for(ty)
            } else {
                return Err(format!("only `null` can be passed for a {ty} parameter"));
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn values() {
        assert_eq!(parse_val(ValType::I32, "-7"), Ok(Val::I32(-7)));
        assert_eq!(parse_val(ValType::I32, "0xffffffff"), Ok(Val::I32(-1)));
        assert_eq!(parse_val(ValType::I64, "123456789012"), Ok(Val::I64(123456789012)));
        assert_eq!(parse_val(ValType::F32, "0x1.8p1"), Ok(Val::F32(3.0f32.to_bits())));
        assert_eq!(parse_val(ValType::F64, "-inf"), Ok(Val::F64(f64::NEG_INFINITY.to_bits())));
        assert_eq!(parse_val(ValType::F32, "nan"), Ok(Val::F32(0x7fc0_0000)));
        assert_eq!(parse_val(ValType::F64, "nan:0x1"), Ok(Val::F64(0x7ff0_0000_0000_0001)));
        assert_eq!(parse_val(ValType::F64, "2.5"), Ok(Val::F64(2.5f64.to_bits())));
        assert!(parse_val(ValType::I32, "abc").is_err());
        assert!(parse_val(ValType::I32, "1.5").is_err());
        assert_eq!(parse_val(ValType::V128, "0x0102"), Ok(Val::V128(0x102)));
        assert_eq!(parse_val(ValType::V128, &u128::MAX.to_string()), Ok(Val::V128(u128::MAX)));
        assert!(parse_val(ValType::V128, "-1").is_err());
        assert!(parse_val(ValType::V128, "+1").is_err());
        assert!(parse_val(ValType::V128, "0X+1").is_err());
        assert!(parse_val(ValType::V128, "0x_+1").is_err());
        assert!(parse_val(ValType::V128, "0x").is_err());
        assert_eq!(parse_val(ValType::V128, "1_000"), Ok(Val::V128(1000)));
        assert!(parse_val(ValType::V128, "0x1_0000_0000_0000_0000_0000_0000_0000_0000").is_err());
    }
}
