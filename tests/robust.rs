//! Bad input never panics: thousands of byte-level mutations of valid modules go through
//! parse/validate → lowering → instantiation → a bounded run of every export; each must end in a
//! clean error, a trap or a result.

#[path = "wat/harness.rs"]
mod harness;
use chiwawa::exec::Machine;
use chiwawa::parse::{ExportKind, Module};
use chiwawa::runtime::{instantiate, Limits, Linker, NoHost, Store, Val};
use harness::Rng;
use std::sync::Arc;

fn seed_modules() -> Vec<Vec<u8>> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut v = Vec::new();
    for f in ["examples/add.wat", "tests/wat/tables.wat", "tests/wat/memgrow.wat", "tests/wat/multi.wat"] {
        v.push(chiwawa::session::load_module_bytes(&dir.join(f)).unwrap());
    }
    let p = std::env::temp_dir().join(format!("chiwawa-robust-{}.wat", std::process::id()));
    std::fs::write(&p, CONTROL).unwrap();
    v.push(chiwawa::session::load_module_bytes(&p).unwrap());
    let _ = std::fs::remove_file(&p);
    v
}

/// Loops, calls, call_indirect, br_table, memory and table traffic, without imports.
const CONTROL: &str = r#"(module
  (type $t (func (param i32) (result i32)))
  (memory 1 4)
  (table 4 funcref)
  (global $g (mut i32) (i32.const 7))
  (elem (i32.const 0) $sq $inc $sq $inc)
  (data (i32.const 16) "abcdefgh")
  (func $sq (type $t) (i32.mul (local.get 0) (local.get 0)))
  (func $inc (type $t) (i32.add (local.get 0) (i32.const 1)))
  (func $rec (param i32) (result i32)
    (if (result i32) (i32.eqz (local.get 0)) (then (i32.const 1))
      (else (i32.add (call $rec (i32.sub (local.get 0) (i32.const 1))) (local.get 0)))))
  (func (export "run") (result i32)
    (local $i i32) (local $s i32)
    (loop $l
      (local.set $s (i32.add (local.get $s)
        (call_indirect (type $t) (local.get $i) (i32.and (local.get $i) (i32.const 3)))))
      (i32.store8 (i32.and (local.get $i) (i32.const 0xffff)) (local.get $s))
      (block $a (block $b (block $c
        (br_table $a $b $c (i32.rem_u (local.get $i) (i32.const 3))))
        (global.set $g (i32.add (global.get $g) (i32.const 1))))
        (drop (memory.grow (i32.const 0))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (i32.const 1000))))
    (i32.add (local.get $s) (call $rec (i32.const 50)))))"#;

/// Instantiates (WASI imports linked to host functions that trap) and calls every exported
/// function with zero arguments under a small instruction budget.
fn exercise(bytes: &[u8]) -> u32 {
    let mut ran = 0;
    let Ok(m) = Module::new(bytes) else { return ran };
    let m = Arc::new(m);
    let mut store = Store::new(Limits { max_memory_pages: 64, max_stack_slots: 1 << 16, max_frames: 1000 });
    let mut linker = Linker::new();
    chiwawa::guest::define_host(&mut store, &mut linker);
    let Ok(imports) = linker.resolve(&m) else { return ran };
    let Ok((inst, start)) = instantiate(&mut store, m.clone(), &imports) else { return ran };
    let mut machine = Machine::new();
    let mut funcs: Vec<u32> = start.into_iter().collect();
    for e in m.exports().iter().filter(|e| e.kind == ExportKind::Func) {
        funcs.push(store.instances()[inst as usize].funcs()[e.index as usize]);
    }
    for f in funcs {
        let ty = store.func_type(f).clone();
        let args: Vec<Val> = ty.params.iter().map(|t| Val::default_for(*t)).collect();
        if machine.start_call(&mut store, &mut NoHost, f, &args).is_err() {
            continue;
        }
        machine.set_budget(200_000);
        let _ = machine.run(&mut store, &mut NoHost);
        ran += 1;
    }
    ran
}

#[test]
fn mutated_modules_never_panic() {
    let seeds = seed_modules();
    let mut rng = Rng::for_test("robust");
    let mut accepted = 0;
    let mut ran = 0;
    for round in 0..6000 {
        let mut b = seeds[round % seeds.len()].clone();
        let edits = 1 + rng.next_u64() % 4;
        for _ in 0..edits {
            let i = (rng.next_u64() % b.len() as u64) as usize;
            match rng.next_u64() % 4 {
                0 => b[i] ^= 1 << (rng.next_u64() % 8),
                1 => b[i] = rng.next_u64() as u8,
                2 => b.truncate(i.max(8)),
                _ => b.insert(i, rng.next_u64() as u8),
            }
        }
        let r = std::panic::catch_unwind(|| exercise(&b));
        assert!(r.is_ok(), "round {round}: panic on a mutated module ({} bytes)", b.len());
        ran += r.unwrap();
        if Module::new(&b).is_ok() {
            accepted += 1;
        }
    }
    // The mutations must also reach the lowering and the executor, not only the parser.
    assert!(accepted > 200, "only {accepted} mutated modules validated");
    assert!(ran > 200, "only {ran} calls executed");
    eprintln!("{accepted} mutated modules validated, {ran} calls executed");
}
