//! Traps and Wasm backtraces.

use std::fmt;

/// Why execution trapped. The messages are the spec testsuite's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TrapKind {
    Unreachable,
    MemoryOutOfBounds,
    TableOutOfBounds,
    UndefinedElement,
    UninitializedElement,
    IndirectCallTypeMismatch,
    IntegerDivideByZero,
    IntegerOverflow,
    InvalidConversion,
    StackExhausted,
    /// `call_ref` of a null reference.
    NullFunctionReference,
    /// `ref.as_non_null` of a null reference.
    NullReference,
    /// `throw_ref` of a null reference.
    NullExceptionReference,
    /// An exception no handler caught left the outermost frame.
    UncaughtException,
    Host(String),
}

/// The kinds the interpreter raises by itself, indexed by [`TrapKind::code`].
const RAISED: [TrapKind; 14] = [
    TrapKind::Unreachable,
    TrapKind::MemoryOutOfBounds,
    TrapKind::TableOutOfBounds,
    TrapKind::UndefinedElement,
    TrapKind::UninitializedElement,
    TrapKind::IndirectCallTypeMismatch,
    TrapKind::IntegerDivideByZero,
    TrapKind::IntegerOverflow,
    TrapKind::InvalidConversion,
    TrapKind::StackExhausted,
    TrapKind::NullFunctionReference,
    TrapKind::NullReference,
    TrapKind::NullExceptionReference,
    TrapKind::UncaughtException,
];

impl TrapKind {
    /// One byte for a kind the interpreter raises by itself (its handlers pass nothing through
    /// memory, see `exec::handlers`); `u8::MAX` for `Host`, which carries a message.
    #[inline(always)]
    pub(crate) fn code(&self) -> u8 {
        match self {
            TrapKind::Unreachable => 0,
            TrapKind::MemoryOutOfBounds => 1,
            TrapKind::TableOutOfBounds => 2,
            TrapKind::UndefinedElement => 3,
            TrapKind::UninitializedElement => 4,
            TrapKind::IndirectCallTypeMismatch => 5,
            TrapKind::IntegerDivideByZero => 6,
            TrapKind::IntegerOverflow => 7,
            TrapKind::InvalidConversion => 8,
            TrapKind::StackExhausted => 9,
            TrapKind::NullFunctionReference => 10,
            TrapKind::NullReference => 11,
            TrapKind::NullExceptionReference => 12,
            TrapKind::UncaughtException => 13,
            TrapKind::Host(_) => u8::MAX,
        }
    }

    /// The kind of a [`TrapKind::code`] (`None` for `Host`'s).
    pub(crate) fn from_code(code: u8) -> Option<TrapKind> {
        RAISED.get(code as usize).cloned()
    }

    pub fn message(&self) -> &str {
        match self {
            TrapKind::Unreachable => "unreachable",
            TrapKind::MemoryOutOfBounds => "out of bounds memory access",
            TrapKind::TableOutOfBounds => "out of bounds table access",
            TrapKind::UndefinedElement => "undefined element",
            TrapKind::UninitializedElement => "uninitialized element",
            TrapKind::IndirectCallTypeMismatch => "indirect call type mismatch",
            TrapKind::IntegerDivideByZero => "integer divide by zero",
            TrapKind::IntegerOverflow => "integer overflow",
            TrapKind::InvalidConversion => "invalid conversion to integer",
            TrapKind::StackExhausted => "call stack exhausted",
            TrapKind::NullFunctionReference => "null function reference",
            TrapKind::NullReference => "null reference",
            TrapKind::NullExceptionReference => "null exception reference",
            TrapKind::UncaughtException => "uncaught exception",
            TrapKind::Host(m) => m,
        }
    }
}

/// One frame of a Wasm backtrace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BacktraceFrame {
    pub func_addr: u32,
    pub name: String,
    /// Byte offset of the instruction in the module.
    pub offset: u32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Trap {
    pub kind: TrapKind,
    /// Innermost frame first.
    pub backtrace: Vec<BacktraceFrame>,
}

impl fmt::Display for Trap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "wasm trap: {}", self.kind.message())
    }
}

impl Trap {
    /// The backtrace in wasmtime's style, one frame per line.
    pub fn backtrace_text(&self) -> String {
        let mut s = String::from("wasm backtrace:\n");
        for (i, fr) in self.backtrace.iter().enumerate() {
            s.push_str(&format!("  {i:>3}: 0x{:x} - {}\n", fr.offset, fr.name));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for (i, k) in RAISED.iter().enumerate() {
            assert_eq!(k.code() as usize, i);
            assert_eq!(TrapKind::from_code(k.code()).as_ref(), Some(k));
        }
        assert_eq!(TrapKind::Host("x".into()).code(), u8::MAX);
        assert_eq!(TrapKind::from_code(u8::MAX), None);
    }
}
