//! Global variables: one slot plus its type.

use super::value::ValType;

#[derive(Clone, Debug)]
pub struct Global {
    pub value: u64,
    pub ty: ValType,
    pub mutable: bool,
}
