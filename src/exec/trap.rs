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
    Host(String),
}

impl TrapKind {
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
