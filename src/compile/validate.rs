//! Validation of a function body that is not lowered at load (lazy lowering): wasmparser's
//! validator driven through its visitor, as its own `FuncValidator::validate` does (no
//! [`Operator`] is built), plus what chiwawa refuses besides (GC instructions and types), the
//! tail calls, and the stack heights that bound the lowering's frame size.
//!
//! On any error the caller validates the body again the slow way (`parse::validate_body`),
//! which reports it exactly as the lowering would: this path only has to be right about
//! valid bodies.

use wasmparser::{FuncValidator, OperatorsReader, ValidatorResources, VisitOperator, VisitSimdOperator};

/// What [`scan`] learnt of a valid body.
pub(crate) struct Scanned {
    /// It makes a tail call (`return_call`, `return_call_indirect`, `return_call_ref`).
    pub tail: bool,
    /// The highest operand and control stacks.
    pub operands: u32,
    pub controls: u32,
}

/// Validates the operators of `reader` (after the locals) with `v`. `None`: the body is
/// invalid, or uses something chiwawa refuses (the slow path says what).
pub(crate) fn scan(
    v: &mut FuncValidator<ValidatorResources>,
    mut reader: OperatorsReader<'_>,
) -> Option<Scanned> {
    let mut s = Scan { v, offset: 0, out: Scanned { tail: false, operands: 0, controls: 0 } };
    while !reader.eof() {
        s.offset = reader.original_position();
        reader.visit_operator(&mut s).ok()?.ok()?;
        s.out.operands = s.out.operands.max(s.v.operand_stack_height());
        s.out.controls = s.out.controls.max(s.v.control_stack_height());
    }
    reader.finish().ok()?;
    Some(s.out)
}

struct Scan<'v> {
    v: &'v mut FuncValidator<ValidatorResources>,
    offset: u64,
    out: Scanned,
}

/// The checks of `parse::in_scope` for the operators whose immediates name a type, and the
/// tail calls; `Err` sends the body to the slow path.
macro_rules! pre {
    ($s:ident, RefNull $hty:ident) => {
        crate::parse::in_scope(&wasmparser::Operator::RefNull { hty: $hty }).map_err(|_| ())?
    };
    ($s:ident, Block $b:ident) => {
        crate::parse::in_scope(&wasmparser::Operator::Block { blockty: $b }).map_err(|_| ())?
    };
    ($s:ident, Loop $b:ident) => {
        crate::parse::in_scope(&wasmparser::Operator::Loop { blockty: $b }).map_err(|_| ())?
    };
    ($s:ident, If $b:ident) => {
        crate::parse::in_scope(&wasmparser::Operator::If { blockty: $b }).map_err(|_| ())?
    };
    ($s:ident, Try $b:ident) => {
        crate::parse::in_scope(&wasmparser::Operator::Try { blockty: $b }).map_err(|_| ())?
    };
    ($s:ident, TryTable $t:ident) => {
        crate::parse::in_scope(&wasmparser::Operator::Block { blockty: $t.ty }).map_err(|_| ())?
    };
    ($s:ident, TypedSelect $t:ident) => {
        crate::parse::in_scope(&wasmparser::Operator::TypedSelect { ty: $t }).map_err(|_| ())?
    };
    // (`TypedSelectMulti`'s types are a vector: always the slow path, which checks them.)
    ($s:ident, TypedSelectMulti $t:ident) => {
        return Err(())
    };
    ($s:ident, ReturnCall $($a:ident)*) => {
        $s.out.tail = true
    };
    ($s:ident, ReturnCallIndirect $($a:ident)*) => {
        $s.out.tail = true
    };
    ($s:ident, ReturnCallRef $($a:ident)*) => {
        $s.out.tail = true
    };
    ($s:ident, $op:ident $($a:ident)*) => {};
}

macro_rules! define_visit {
    ($( @$proposal:ident $op:ident $({ $($arg:ident: $argty:ty),* })? => $visit:ident ($($ann:tt)*))*) => {
        $(
            #[allow(unused_variables, unreachable_code)]
            fn $visit(&mut self $($(,$arg: $argty)*)?) -> Self::Output {
                define_visit!(@gc $proposal);
                pre!(self, $op $($($arg)*)?);
                self.v.visitor(self.offset).$visit($($($arg),*)?).map_err(|_| ())
            }
        )*
    };
    (@gc gc) => { return Err(()) };
    (@gc $p:ident) => {};
}

macro_rules! define_visit_simd {
    ($( @$proposal:ident $op:ident $({ $($arg:ident: $argty:ty),* })? => $visit:ident ($($ann:tt)*))*) => {
        $(
            fn $visit(&mut self $($(,$arg: $argty)*)?) -> Self::Output {
                self.v.simd_visitor(self.offset).$visit($($($arg),*)?).map_err(|_| ())
            }
        )*
    };
}

impl<'a> VisitOperator<'a> for Scan<'_> {
    type Output = Result<(), ()>;

    fn simd_visitor(&mut self) -> Option<&mut dyn VisitSimdOperator<'a, Output = Self::Output>> {
        Some(self)
    }

    wasmparser::for_each_visit_operator!(define_visit);
}

impl<'a> VisitSimdOperator<'a> for Scan<'_> {
    wasmparser::for_each_visit_simd_operator!(define_visit_simd);
}
