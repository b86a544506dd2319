//! The `spectest` host module that the official testsuite imports.

use crate::runtime::memory::Memory as Mem;
use crate::runtime::store::{Extern, Store};
use crate::runtime::table::Table;
use crate::runtime::value::{FullType, FuncType, Val, ValType};
use crate::runtime::{Host, HostError, Linker};

/// Host functions of `spectest`: the `print*` family (they print nothing).
pub struct SpecHost;

impl Host for SpecHost {
    fn call(&mut self, _id: u32, _: Option<&mut Mem>, _: &[u64], _: &mut [u64]) -> Result<(), HostError> {
        Ok(())
    }
}

/// The `print*` functions of `spectest`: name and parameter types (no results).
pub const PRINTERS: [(&str, &[ValType]); 7] = {
    use ValType::*;
    [
        ("print", &[]),
        ("print_i32", &[I32]),
        ("print_i64", &[I64]),
        ("print_f32", &[F32]),
        ("print_f64", &[F64]),
        ("print_i32_f32", &[I32, F32]),
        ("print_f64_f64", &[F64, F64]),
    ]
};

/// Defines the `print*` functions in `linker` as host functions numbered `first_id..`.
pub fn define_printers(store: &mut Store, linker: &mut Linker, first_id: u32) {
    for (i, (name, params)) in PRINTERS.iter().enumerate() {
        let ty = FuncType { params: params.to_vec(), results: vec![] };
        let a = store.add_host_func(&ty, first_id + i as u32);
        linker.define("spectest", name, Extern::Func(a));
    }
}

/// Defines `spectest` in `linker`, allocating its objects in `store`.
pub fn define(store: &mut Store, linker: &mut Linker) {
    use ValType::*;
    define_printers(store, linker, 0);
    let globals = [
        ("global_i32", I32, Val::I32(666)),
        ("global_i64", I64, Val::I64(666)),
        ("global_f32", F32, Val::F32(666.6f32.to_bits())),
        ("global_f64", F64, Val::F64(666.6f64.to_bits())),
    ];
    for (name, ty, v) in globals {
        let a = store.add_global(ty, false, v);
        linker.define("spectest", name, Extern::Global(a));
    }
    store.tables.push(Table::new(FullType::plain(FuncRef), 10, Some(20), false, 0).expect("small table"));
    linker.define("spectest", "table", Extern::Table((store.tables.len() - 1) as u32));
    store.memories.push(Mem::new(1, Some(2), store.limits.max_memory_pages, false).expect("one page"));
    linker.define("spectest", "memory", Extern::Memory((store.memories.len() - 1) as u32));
}
