//! The semantics of every operation of the instruction-set table (`build/isa.rs`), one
//! function each (`i32_lt_s`), which every form of the operation calls: most are generated from
//! the table's expressions (`isa_ops.rs`); the ones here are hand-written (float min/max with the
//! spec's NaN and signed-zero rules, float→int truncation with its traps) or are helpers of the
//! table's expressions.

use super::trap::TrapKind;

include!(concat!(env!("OUT_DIR"), "/isa_ops.rs"));

macro_rules! float_ops {
    ($f:ty, $min:ident, $max:ident) => {
        #[inline]
        pub fn $min(a: $f, b: $f) -> $f {
            if a.is_nan() || b.is_nan() {
                a.max_nan(a, b) // propagate a quiet NaN
            } else if a == b {
                <$f>::from_bits(a.to_bits() | b.to_bits()) // -0 wins
            } else if a < b {
                a
            } else {
                b
            }
        }
        #[inline]
        pub fn $max(a: $f, b: $f) -> $f {
            if a.is_nan() || b.is_nan() {
                a.max_nan(a, b)
            } else if a == b {
                <$f>::from_bits(a.to_bits() & b.to_bits()) // +0 wins
            } else if a > b {
                a
            } else {
                b
            }
        }
    };
}

/// NaN result of a binary operation: an arithmetic (quiet) NaN derived from the NaN operand(s).
trait NanOf: Sized {
    fn max_nan(self, a: Self, b: Self) -> Self;
}
impl NanOf for f32 {
    #[inline]
    fn max_nan(self, a: f32, b: f32) -> f32 {
        let n = if a.is_nan() { a } else { b };
        f32::from_bits(n.to_bits() | 0x0040_0000)
    }
}
impl NanOf for f64 {
    #[inline]
    fn max_nan(self, a: f64, b: f64) -> f64 {
        let n = if a.is_nan() { a } else { b };
        f64::from_bits(n.to_bits() | 0x0008_0000_0000_0000)
    }
}

float_ops!(f32, f32_min, f32_max);
float_ops!(f64, f64_min, f64_max);

/// The bits of a unary float result; a NaN result is made quiet (an arithmetic NaN), as the
/// spec requires even when the operand was a signaling NaN (libm's rounding functions keep it).
#[inline]
pub fn quiet32(r: f32) -> u32 {
    let b = r.to_bits();
    if r.is_nan() {
        b | 0x0040_0000
    } else {
        b
    }
}

/// `f64.sqrt`. The square root instructions of x86_64 and aarch64 (and Wasm's own `f64.sqrt`
/// under chiwawa.wasm) already return a quiet NaN for a NaN operand, as Wasm requires; the
/// explicit quieting, for other targets, would lengthen every dependency chain through a
/// square root.
#[inline(always)]
pub fn sqrt64(a: f64) -> f64 {
    if cfg!(any(target_arch = "x86_64", target_arch = "aarch64", target_arch = "wasm32")) {
        a.sqrt()
    } else {
        f64::from_bits(quiet64(a.sqrt()))
    }
}

#[inline]
pub fn quiet64(r: f64) -> u64 {
    let b = r.to_bits();
    if r.is_nan() {
        b | 0x0008_0000_0000_0000
    } else {
        b
    }
}

macro_rules! trunc {
    ($name:ident, $f:ty, $i:ty, $lo:expr, $hi:expr) => {
        /// Traps on NaN (invalid conversion) and out-of-range (integer overflow).
        #[inline]
        pub fn $name(x: $f) -> Result<$i, TrapKind> {
            if x.is_nan() {
                return Err(TrapKind::InvalidConversion);
            }
            let t = x.trunc();
            // $lo and $hi are exact in the float type: valid iff lo <= t < hi (or > lo-1 for unsigned).
            if ($lo..$hi).contains(&t) {
                Ok(t as $i)
            } else {
                Err(TrapKind::IntegerOverflow)
            }
        }
    };
}

trunc!(i32_trunc_f32_s, f32, i32, -2147483648.0f32, 2147483648.0f32);
trunc!(i32_trunc_f32_u, f32, u32, 0.0f32, 4294967296.0f32);
trunc!(i32_trunc_f64_s, f64, i32, -2147483648.0f64, 2147483648.0f64);
trunc!(i32_trunc_f64_u, f64, u32, 0.0f64, 4294967296.0f64);
trunc!(i64_trunc_f32_s, f32, i64, -9223372036854775808.0f32, 9223372036854775808.0f32);
trunc!(i64_trunc_f32_u, f32, u64, 0.0f32, 18446744073709551616.0f32);
trunc!(i64_trunc_f64_s, f64, i64, -9223372036854775808.0f64, 9223372036854775808.0f64);
trunc!(i64_trunc_f64_u, f64, u64, 0.0f64, 18446744073709551616.0f64);

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn min_max_zero_and_nan() {
        assert_eq!(f32_min(0.0, -0.0).to_bits(), (-0.0f32).to_bits());
        assert_eq!(f32_max(-0.0, 0.0).to_bits(), 0.0f32.to_bits());
        assert!(f64_min(f64::NAN, 1.0).is_nan());
        assert!(f64_max(1.0, f64::NAN).is_nan());
        assert_eq!(f64_min(1.0, 2.0), 1.0);
    }
    #[test]
    fn truncation_bounds() {
        assert_eq!(i32_trunc_f32_s(-2147483648.0), Ok(i32::MIN));
        assert_eq!(i32_trunc_f32_s(2147483648.0), Err(TrapKind::IntegerOverflow));
        assert_eq!(i32_trunc_f64_u(-0.9), Ok(0));
        assert_eq!(i32_trunc_f64_u(-1.0), Err(TrapKind::IntegerOverflow));
        assert_eq!(i32_trunc_f64_s(-2147483648.9), Ok(i32::MIN));
        assert_eq!(i64_trunc_f64_u(f64::NAN), Err(TrapKind::InvalidConversion));
    }
}
