//! Runtime objects: values, the store (functions, memories, tables, globals), instances, the
//! linker that resolves imports, and the host-function interface.

pub mod global;
pub mod host;
pub mod instance;
pub mod linker;
pub mod memory;
pub mod store;
pub mod table;
pub mod value;
pub(crate) mod wprotect;

pub use host::{Host, HostError, NoHost};
pub use instance::{instantiate, Instance};
pub use linker::Linker;
pub use memory::Memory;
pub use store::{Extern, FuncKind, Limits, Store};
pub use value::{FuncType, Val, ValType};
