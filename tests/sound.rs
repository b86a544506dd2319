//! The safe API cannot make the interpreter read out of bounds: the state it trusts (frames,
//! stack, store internals, compiled code) is private to the crate, and what a safe caller can
//! still mix up is checked where a run starts. (That a frame's fields cannot be written from
//! outside is shown by the `compile_fail` examples on `chiwawa::exec::Frame`.)

use chiwawa::exec::{Machine, TrapKind};
use chiwawa::parse::Module;
use chiwawa::runtime::{instantiate, Extern, Limits, NoHost, Store, Val};
use std::sync::Arc;

fn module(wat: &str) -> Arc<Module> {
    let bytes = wast::parser::parse::<wast::Wat>(&wast::parser::ParseBuffer::new(wat).unwrap())
        .unwrap()
        .encode()
        .unwrap();
    Arc::new(Module::new(&bytes).unwrap())
}

/// An instantiated module and the store address of its export `name`.
fn instance(wat: &str, name: &str) -> (Store, u32) {
    let mut store = Store::new(Limits::default());
    let (inst, _) = instantiate(&mut store, module(wat), &[]).unwrap();
    let Some(Extern::Func(f)) = store.instances()[inst as usize].export(name) else { panic!("no {name}") };
    (store, f)
}

/// Many functions, the last one with a deep frame (its address does not exist in `SMALL`).
const BIG: &str = r#"(module
  (func $a) (func $b) (func $c)
  (func (export "deep") (result i64)
    (local i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64)
    (local.get 15)))"#;

const SMALL: &str = r#"(module (func (export "f") (result i32) (i32.const 7)))"#;

fn refused(r: Result<chiwawa::RunResult, chiwawa::Trap>) {
    match r {
        Err(t) => {
            let TrapKind::Host(m) = &t.kind else { panic!("unexpected trap {t:?}") };
            assert!(m.contains("do not fit this store"), "{m}");
        }
        Ok(r) => panic!("a run on frames of another store must be refused, got {r:?}"),
    }
}

/// A machine set up on one store and run on another whose functions are fewer: the frame's
/// function address names nothing there. (Before the check, `run` resolved it unchecked.)
#[test]
fn frames_of_another_store_are_refused() {
    let (mut big, deep) = instance(BIG, "deep");
    let (mut small, f) = instance(SMALL, "f");
    assert!(deep > f, "premise: the address does not exist in the small store");
    let mut m = Machine::new();
    m.start_call(&mut big, &mut NoHost, deep, &[]).unwrap();
    refused(m.run(&mut small, &mut NoHost));
    // The machine is still usable on its own store.
    m.start_call(&mut big, &mut NoHost, deep, &[]).unwrap();
    assert_eq!(m.run(&mut big, &mut NoHost).unwrap(), chiwawa::RunResult::Done);
    assert_eq!(m.results(&big, deep), vec![Val::I64(0)]);
}

/// The same address in both stores, but the other store's function needs a larger frame than
/// the stack holds.
#[test]
fn frames_larger_than_the_stack_are_refused() {
    let (mut small, f) = instance(SMALL, "f");
    let mut m = Machine::new();
    m.start_call(&mut small, &mut NoHost, f, &[]).unwrap();
    let wide = format!(
        "(module (func (export \"f\") (result i64) (local {}) (local.get 0)))",
        "i64 ".repeat(m.stack().len() + 8)
    );
    let (mut wider, w) = instance(&wide, "f");
    assert_eq!(w, f, "premise: the same address");
    refused(m.run(&mut wider, &mut NoHost));
    // Same address, a frame that fits: the run goes ahead (which store a machine runs on is
    // the caller's business; it just cannot break the interpreter).
    let (mut other, o) = instance(r#"(module (func (export "f") (result i32) (i32.const 8)))"#, "f");
    assert_eq!(o, f);
    m.start_call(&mut small, &mut NoHost, f, &[]).unwrap();
    assert_eq!(m.run(&mut other, &mut NoHost).unwrap(), chiwawa::RunResult::Done);
    assert_eq!(m.results(&other, o), vec![Val::I32(8)]);
}

/// The frames and the stack can be read from outside, and slot values changed: any bits are
/// safe in a slot (a function reference is checked where it is called).
#[test]
fn slots_are_data() {
    let (mut store, f) = instance(
        r#"(module
             (type $t (func (result i32)))
             (table 1 funcref)
             (func $seven (result i32) (i32.const 7))
             (elem (i32.const 0) $seven)
             (func (export "f") (result i32) (local funcref i32)
               (loop $l
                 (local.set 1 (i32.add (local.get 1) (i32.const 1)))
                 (br_if $l (i32.lt_u (local.get 1) (i32.const 100000))))
               (table.set (i32.const 0) (local.get 0))
               (call_indirect (type $t) (i32.const 0))))"#,
        "f",
    );
    let mut m = Machine::new();
    m.start_call(&mut store, &mut NoHost, f, &[]).unwrap();
    m.set_budget(1000);
    assert_eq!(m.run(&mut store, &mut NoHost).unwrap(), chiwawa::RunResult::Yield);
    let fp = m.frames().last().unwrap().fp() as usize;
    // A reference to a function that does not exist, in the funcref local.
    m.stack_mut()[fp] = u64::MAX;
    m.set_budget(u64::MAX);
    let t = m.run(&mut store, &mut NoHost).unwrap_err();
    assert_eq!(t.kind, TrapKind::UninitializedElement, "{t:?}");
}

/// Lazy lowering keeps tail calls tail calls: a chain of first calls through 300 distinct
/// functions by `return_call` runs within a call depth of 10 (each function lowered as the
/// chain reaches it, its frame taking the caller's place).
#[test]
fn first_tail_calls_of_unlowered_functions_stay_tail_calls() {
    let n = 300;
    let mut wat = String::from("(module\n");
    for i in 0..n {
        if i + 1 < n {
            wat.push_str(&format!(
                "(func $f{i} (export \"f{i}\") (param i32) (result i32) (return_call $f{} (i32.add (local.get 0) (i32.const 1))))\n",
                i + 1
            ));
        } else {
            wat.push_str(&format!("(func $f{i} (param i32) (result i32) (local.get 0))\n"));
        }
    }
    wat.push(')');
    let mut store = Store::new(Limits { max_frames: 10, ..Limits::default() });
    let (inst, _) = instantiate(&mut store, module(&wat), &[]).unwrap();
    let Some(Extern::Func(f)) = store.instances()[inst as usize].export("f0") else { panic!("no f0") };
    let mut m = Machine::new();
    m.start_call(&mut store, &mut NoHost, f, &[Val::I32(5)]).unwrap();
    assert_eq!(m.run(&mut store, &mut NoHost).unwrap(), chiwawa::RunResult::Done);
    assert_eq!(m.results(&store, f), vec![Val::I32(5 + n - 1)]);
}
