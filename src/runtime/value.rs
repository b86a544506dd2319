//! Values and types as the interpreter sees them.
//!
//! Every Wasm value lives in one untyped 64-bit *slot* (`u64`): an `i32` or `f32` in the low 32 bits
//! (upper bits zero), an `i64`/`f64` in all 64, a reference as `0` for null or `index + 1`
//! (a function's store address for `funcref`, the host-given value for `externref`) — except a
//! `v128`, which takes two consecutive slots (bytes 0–7 as the little-endian `u64` of the first,
//! bytes 8–15 of the second). Slots are plain data, which is what makes the machine state
//! trivially serializable.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A value type of Wasm 2.0 (and `exnref`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ValType {
    I32,
    I64,
    F32,
    F64,
    FuncRef,
    ExternRef,
    /// A reference to an exception (Wasm 3.0 exception handling).
    ExnRef,
    /// A 128-bit vector (SIMD): two slots.
    V128,
}

impl ValType {
    /// How many slots a value of this type takes: 2 for `v128`, 1 for every other.
    #[inline]
    pub fn slots(self) -> usize {
        if self == ValType::V128 {
            2
        } else {
            1
        }
    }
}

/// The slots values of `types` take together.
pub fn slots_of(types: &[ValType]) -> usize {
    types.iter().map(|t| t.slots()).sum()
}

impl fmt::Display for ValType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ValType::I32 => "i32",
            ValType::I64 => "i64",
            ValType::F32 => "f32",
            ValType::F64 => "f64",
            ValType::FuncRef => "funcref",
            ValType::ExternRef => "externref",
            ValType::ExnRef => "exnref",
            ValType::V128 => "v128",
        })
    }
}

/// The heap type of a reference, as Wasm 3.0 without GC has them. `Type(i)` is a function
/// type: a module type index inside a [`Module`](crate::parse::Module), a canonical type id of
/// the store once instantiated (see [`crate::runtime::store::Store::intern_sig`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HeapType {
    Func,
    Extern,
    NoFunc,
    NoExtern,
    Exn,
    NoExn,
    Type(u32),
}

/// A value type in full: what linking and `call_indirect` compare. [`ValType`] is its run-time
/// representation (every function reference is a `funcref` slot).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FullType {
    /// A number type (never a reference type).
    Num(ValType),
    Ref {
        nullable: bool,
        heap: HeapType,
    },
}

impl FullType {
    /// The full type of a run-time type (`funcref` = `(ref null func)`, …).
    pub fn plain(t: ValType) -> FullType {
        match t {
            ValType::FuncRef => FullType::Ref { nullable: true, heap: HeapType::Func },
            ValType::ExternRef => FullType::Ref { nullable: true, heap: HeapType::Extern },
            ValType::ExnRef => FullType::Ref { nullable: true, heap: HeapType::Exn },
            n => FullType::Num(n),
        }
    }

    /// How values of this type are represented at run time.
    pub fn repr(self) -> ValType {
        match self {
            FullType::Num(t) => t,
            FullType::Ref { heap: HeapType::Extern | HeapType::NoExtern, .. } => ValType::ExternRef,
            FullType::Ref { heap: HeapType::Exn | HeapType::NoExn, .. } => ValType::ExnRef,
            FullType::Ref { .. } => ValType::FuncRef,
        }
    }

    /// The same type with every `Type(i)` renamed `Type(f(i))`.
    pub fn map(self, f: impl Fn(u32) -> u32) -> FullType {
        match self {
            FullType::Ref { nullable, heap: HeapType::Type(i) } => {
                FullType::Ref { nullable, heap: HeapType::Type(f(i)) }
            }
            t => t,
        }
    }

    /// Whether every value of `self` is a value of `other` (both in store type ids). Without
    /// GC a function type has no declared supertypes: a concrete type matches only itself,
    /// `func` and (from below) `nofunc`.
    pub fn matches(self, other: FullType) -> bool {
        use HeapType as H;
        match (self, other) {
            (FullType::Ref { nullable: n1, heap: h1 }, FullType::Ref { nullable: n2, heap: h2 }) => {
                (!n1 || n2)
                    && (h1 == h2
                        || matches!(
                            (h1, h2),
                            (H::Type(_) | H::NoFunc, H::Func)
                                | (H::NoFunc, H::Type(_))
                                | (H::NoExtern, H::Extern)
                                | (H::NoExn, H::Exn)
                        ))
            }
            (a, b) => a == b,
        }
    }
}

impl fmt::Display for FullType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let FullType::Ref { nullable, heap } = *self else {
            return write!(f, "{}", self.repr());
        };
        let heap = match heap {
            HeapType::Func => "func".to_string(),
            HeapType::Extern => "extern".to_string(),
            HeapType::NoFunc => "nofunc".to_string(),
            HeapType::NoExtern => "noextern".to_string(),
            HeapType::Exn => "exn".to_string(),
            HeapType::NoExn => "noexn".to_string(),
            HeapType::Type(i) => i.to_string(),
        };
        write!(f, "(ref {}{heap})", if nullable { "null " } else { "" })
    }
}

/// A function signature in full types (see [`FullType`]), the key types are canonicalized by.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct Sig {
    pub params: Box<[FullType]>,
    pub results: Box<[FullType]>,
}

impl Sig {
    /// The signature of a Wasm 2.0 function type.
    pub fn plain(t: &FuncType) -> Sig {
        Sig {
            params: t.params.iter().map(|&p| FullType::plain(p)).collect(),
            results: t.results.iter().map(|&r| FullType::plain(r)).collect(),
        }
    }

    /// The same signature with every `Type(i)` renamed `Type(f(i))`.
    pub fn map(&self, f: impl Fn(u32) -> u32) -> Sig {
        Sig {
            params: self.params.iter().map(|p| p.map(&f)).collect(),
            results: self.results.iter().map(|r| r.map(&f)).collect(),
        }
    }

    /// Its run-time representation.
    pub fn func_type(&self) -> FuncType {
        FuncType {
            params: self.params.iter().map(|p| p.repr()).collect(),
            results: self.results.iter().map(|r| r.repr()).collect(),
        }
    }
}

/// A function signature.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct FuncType {
    pub params: Vec<ValType>,
    pub results: Vec<ValType>,
}

impl FuncType {
    /// The slots the parameters take (a `v128` takes two).
    pub fn param_slots(&self) -> usize {
        slots_of(&self.params)
    }

    /// The slots the results take.
    pub fn result_slots(&self) -> usize {
        slots_of(&self.results)
    }
}

impl fmt::Display for FuncType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |v: &[ValType]| v.iter().map(|t| t.to_string()).collect::<Vec<_>>().join(" ");
        write!(f, "(func (param {}) (result {}))", list(&self.params), list(&self.results))
    }
}

/// A typed Wasm value, used at the embedding boundary (invoke arguments, results, globals).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Val {
    I32(i32),
    I64(i64),
    /// Raw IEEE-754 bits, so NaN payloads survive.
    F32(u32),
    F64(u64),
    /// `None` is `ref.null func`; otherwise a function's store address.
    FuncRef(Option<u32>),
    /// `None` is `ref.null extern`; otherwise the host value.
    ExternRef(Option<u32>),
    /// `None` is `ref.null exn`; otherwise an exception of the store.
    ExnRef(Option<u32>),
    /// A `v128`: lane 0 in the least significant bits (`u128::from_le_bytes` of its bytes).
    V128(u128),
}

impl Val {
    pub fn ty(&self) -> ValType {
        match self {
            Val::I32(_) => ValType::I32,
            Val::I64(_) => ValType::I64,
            Val::F32(_) => ValType::F32,
            Val::F64(_) => ValType::F64,
            Val::FuncRef(_) => ValType::FuncRef,
            Val::ExternRef(_) => ValType::ExternRef,
            Val::ExnRef(_) => ValType::ExnRef,
            Val::V128(_) => ValType::V128,
        }
    }

    /// Appends the slots of this value (two for a `v128`) to `out`.
    pub fn push_slots(self, out: &mut Vec<u64>) {
        match self {
            Val::V128(v) => out.extend([v as u64, (v >> 64) as u64]),
            v => out.push(v.to_slot()),
        }
    }

    /// The slots of `vals`, in order.
    pub fn slots(vals: &[Val]) -> Vec<u64> {
        let mut out = Vec::with_capacity(vals.len());
        for v in vals {
            v.push_slots(&mut out);
        }
        out
    }

    /// Decodes values of `types` from their slots `s` (`None` when `s` is too short).
    pub fn from_slots(types: &[ValType], s: &[u64]) -> Option<Vec<Val>> {
        let mut out = Vec::with_capacity(types.len());
        let mut i = 0;
        for &t in types {
            out.push(match t {
                ValType::V128 => Val::V128(*s.get(i)? as u128 | (*s.get(i + 1)? as u128) << 64),
                t => Val::from_slot(t, *s.get(i)?),
            });
            i += t.slots();
        }
        Some(out)
    }

    /// The slot encoding of this value (of a `v128`: its first slot only).
    pub fn to_slot(self) -> u64 {
        match self {
            Val::V128(v) => v as u64,
            Val::I32(v) => v as u32 as u64,
            Val::I64(v) => v as u64,
            Val::F32(v) => v as u64,
            Val::F64(v) => v,
            Val::FuncRef(r) | Val::ExternRef(r) | Val::ExnRef(r) => r.map_or(0, |i| i as u64 + 1),
        }
    }

    /// Decodes a slot of type `ty` (of a `v128`: the value whose first slot it is, upper half 0).
    pub fn from_slot(ty: ValType, s: u64) -> Val {
        let r = if s == 0 { None } else { Some((s - 1) as u32) };
        match ty {
            ValType::I32 => Val::I32(s as u32 as i32),
            ValType::I64 => Val::I64(s as i64),
            ValType::F32 => Val::F32(s as u32),
            ValType::F64 => Val::F64(s),
            ValType::FuncRef => Val::FuncRef(r),
            ValType::ExternRef => Val::ExternRef(r),
            ValType::ExnRef => Val::ExnRef(r),
            ValType::V128 => Val::V128(s as u128),
        }
    }

    /// The zero value (default for locals and fresh table slots).
    pub fn default_for(ty: ValType) -> Val {
        Val::from_slot(ty, 0)
    }
}

impl fmt::Display for Val {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Val::I32(v) => write!(f, "{v}"),
            Val::I64(v) => write!(f, "{v}"),
            Val::F32(b) => fmt_float(f, f32::from_bits(b) as f64, b as u64, 32),
            Val::F64(b) => fmt_float(f, f64::from_bits(b), b, 64),
            Val::FuncRef(None) | Val::ExternRef(None) | Val::ExnRef(None) => write!(f, "null"),
            Val::ExnRef(Some(i)) => write!(f, "exnref:{i}"),
            Val::FuncRef(Some(i)) => write!(f, "funcref:{i}"),
            Val::ExternRef(Some(i)) => write!(f, "externref:{i}"),
            Val::V128(v) => write!(f, "{v}"),
        }
    }
}

fn fmt_float(f: &mut fmt::Formatter<'_>, v: f64, bits: u64, width: u32) -> fmt::Result {
    if v.is_nan() {
        let (sign, payload, canon) = if width == 32 {
            ((bits >> 31) & 1, bits & 0x7f_ffff, 0x40_0000)
        } else {
            (bits >> 63, bits & 0xf_ffff_ffff_ffff, 0x8_0000_0000_0000)
        };
        let s = if sign == 1 { "-" } else { "" };
        if payload == canon {
            write!(f, "{s}nan")
        } else {
            write!(f, "{s}nan:0x{payload:x}")
        }
    } else if v.is_infinite() {
        write!(f, "{}inf", if v < 0.0 { "-" } else { "" })
    } else if width == 32 {
        write!(f, "{}", f32::from_bits(bits as u32))
    } else {
        write!(f, "{v}")
    }
}
