//! Global variables: one slot plus its type.

use super::value::{FullType, ValType};

#[derive(Clone, Debug)]
pub struct Global {
    pub(crate) value: u64,
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

    pub fn ty(&self) -> ValType {
        self.ty
    }

    pub fn mutable(&self) -> bool {
        self.mutable
    }
}
