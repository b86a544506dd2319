//! The `spectest` host module that the official testsuite imports.

use crate::runtime::memory::Memory as Mem;
use crate::runtime::store::{Extern, Store};
use crate::runtime::table::Table;
use crate::runtime::value::{FuncType, Val, ValType};
use crate::runtime::{Host, HostError, Linker};

/// Host functions of `spectest`: the `print*` family (they print nothing).
pub struct SpecHost;

impl Host for SpecHost {
    fn call(&mut self, _id: u32, _: Option<&mut Mem>, _: &[u64], _: &mut [u64]) -> Result<(), HostError> {
        Ok(())
    }
}

/// Defines `spectest` in `linker`, allocating its objects in `store`.
pub fn define(store: &mut Store, linker: &mut Linker) {
    use ValType::*;
    let funcs: [(&str, Vec<ValType>); 7] = [
        ("print", vec![]),
        ("print_i32", vec![I32]),
        ("print_i64", vec![I64]),
        ("print_f32", vec![F32]),
        ("print_f64", vec![F64]),
        ("print_i32_f32", vec![I32, F32]),
        ("print_f64_f64", vec![F64, F64]),
    ];
    for (id, (name, params)) in funcs.into_iter().enumerate() {
        let a = store.add_host_func(&FuncType { params, results: vec![] }, id as u32);
        linker.define("spectest", name, Extern::Func(a));
    }
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
    store.tables.push(Table::new(FuncRef, 10, Some(20), 0).expect("small table"));
    linker.define("spectest", "table", Extern::Table((store.tables.len() - 1) as u32));
    store.memories.push(Mem::new(1, Some(2), store.limits.max_memory_pages).expect("one page"));
    linker.define("spectest", "memory", Extern::Memory((store.memories.len() - 1) as u32));
}
