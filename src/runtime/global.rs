//! Global variables: one slot (two for a `v128`) plus its type.

use super::value::{FullType, ValType};

#[derive(Clone, Debug)]
pub struct Global {
    pub(crate) value: u64,
    /// Of a `v128`: its second slot (bytes 8–15); 0 for every other type.
    pub(crate) hi: u64,
    pub(crate) ty: ValType,
    /// Its type in full (concrete references name store type ids), for linking.
    pub(crate) full: FullType,
    pub(crate) mutable: bool,
}

impl Global {
    /// The value's bits, as a slot holds them.
    pub fn value(&self) -> u64 {
        self.value
    }

    /// Sets the value's bits (a function reference is checked where it is called).
    pub fn set_value(&mut self, value: u64) {
        self.value = value;
    }

    /// The value's bits as a `u128` (a `v128`'s lane 0 in the least significant bits).
    pub fn value128(&self) -> u128 {
        self.value as u128 | (self.hi as u128) << 64
    }

    pub fn ty(&self) -> ValType {
        self.ty
    }

    pub fn mutable(&self) -> bool {
        self.mutable
    }
}
