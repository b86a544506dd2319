/// Prints the lowered code of every function of the module named by `$CHIWAWA_DUMP_IR`
/// (a .wasm file): `CHIWAWA_DUMP_IR=x.wasm cargo test --lib dump_ir -- --ignored --nocapture`.
#[test]
#[ignore]
fn dump_ir() {
    let Ok(path) = std::env::var("CHIWAWA_DUMP_IR") else { return };
    let mut bytes = std::fs::read(&path).unwrap();
    if path.ends_with(".wat") {
        bytes = wat_bytes(&String::from_utf8(bytes).unwrap());
    }
    let m = crate::parse::Module::new(&bytes).unwrap();
    for (i, f) in m.lower_all().unwrap().0.iter().enumerate() {
        let idx = i as u32 + m.num_imported_funcs;
        println!("func {idx} {} (locals {}, slots {}):", m.func_display_name(idx), f.num_locals, f.max_slots);
        for (pc, ins) in f.code.iter().enumerate() {
            println!("  {pc:4}: {ins:?}");
        }
    }
}

/// The binary of a module in the text format.
fn wat_bytes(wat: &str) -> Vec<u8> {
    let buf = wast::parser::ParseBuffer::new(wat).unwrap();
    wast::parser::parse::<wast::Wat>(&buf).unwrap().encode().unwrap()
}

/// Lowers a module and returns the code of its defined function number `func`.
fn lower(wat: &str, func: usize) -> Vec<crate::compile::ir::Instr> {
    let bytes = wat_bytes(wat);
    let m = crate::parse::Module::new(&bytes).unwrap();
    m.lower_all().unwrap().0[func].code.clone()
}

fn run(script: &str) {
    let s = crate::wast::run_text("fusion", script);
    assert_eq!(s.failed, 0, "{:?}", s.failures);
    assert!(s.passed > 1);
}

/// Address adds folded into loads and stores keep the 32-bit wrap-around of `i32.add`:
/// `p + 8` with `p = 0xffff_fffc` is address 4, not an out-of-bounds 2^32 + 4.
#[test]
fn fused_address_adds_wrap_like_i32_add() {
    use crate::compile::ir::Instr;
    let body = r#"(module (memory 1)
      (func (export "ld") (param $p i32) (result i64)
        (i64.load offset=2 (i32.add (local.get $p) (i32.const 8))))
      (func (export "st") (param $p i32) (param $v i32)
        (i32.store16 offset=1 (i32.add (local.get $p) (i32.const 8)) (local.get $v)))
      (func (export "ld8") (param $a i32) (result i32) (i32.load8_u (local.get $a))))"#;
    let ld = lower(body, 0);
    assert!(ld.iter().any(|i| matches!(i, Instr::I64LoadAt(_))), "{ld:?}");
    let st = lower(body, 1);
    assert!(st.iter().any(|i| matches!(i, Instr::I32Store16At(_))), "{st:?}");
    run(&format!(
        r#"{body}
        (assert_return (invoke "st" (i32.const 0) (i32.const 0x1234)) )
        (assert_return (invoke "ld8" (i32.const 9)) (i32.const 0x34))
        (assert_return (invoke "st" (i32.const -4) (i32.const 0xabcd)))
        (assert_return (invoke "ld8" (i32.const 5)) (i32.const 0xcd))
        (assert_return (invoke "ld8" (i32.const 6)) (i32.const 0xab))
        (assert_return (invoke "ld" (i32.const -8)) (i64.const 0x3400_00ab_cd00_0000))
        (assert_trap (invoke "ld" (i32.const 65520)) "out of bounds memory access")
        (assert_trap (invoke "st" (i32.const 65526) (i32.const 1)) "out of bounds memory access")"#
    ));
}

/// `base + (i << k)` addresses fold into indexed loads and stores, in either operand order,
/// wrapping like the `i32.shl` and `i32.add` they replace; not when the shifted value is a
/// local (it may be read again).
#[test]
fn indexed_accesses_wrap_like_shl_and_add() {
    use crate::compile::ir::Instr;
    let body = r#"(module (memory 1)
      (func (export "ld") (param $b i32) (param $i i32) (result i32)
        (i32.load offset=4 (i32.add (local.get $b) (i32.shl (local.get $i) (i32.const 2)))))
      (func (export "st") (param $b i32) (param $i i32) (param $v i64)
        (i64.store (i32.add (i32.shl (local.get $i) (i32.const 35)) (local.get $b)) (local.get $v)))
      (func (export "tee") (param $b i32) (param $i i32) (result i32)
        (i32.load8_u (i32.add (local.get $b) (local.tee $i (i32.shl (local.get $i) (i32.const 1)))))))"#;
    let ld = lower(body, 0);
    assert!(ld.iter().any(|i| matches!(i, Instr::I32LoadIdx(x) if x.shift == 2 && x.offset == 4)), "{ld:?}");
    assert!(!ld.iter().any(|i| matches!(i, Instr::I32ShlImm(_))), "{ld:?}");
    let st = lower(body, 1);
    assert!(st.iter().any(|i| matches!(i, Instr::I64StoreIdx(x) if x.shift == 3)), "{st:?}");
    let tee = lower(body, 2);
    assert!(tee.iter().any(|i| matches!(i, Instr::I32ShlImm(_))), "{tee:?}");
    run(&format!(
        r#"{body}
        (assert_return (invoke "st" (i32.const 8) (i32.const 1) (i64.const 0x0807060504030201)))
        (assert_return (invoke "ld" (i32.const 0) (i32.const 3)) (i32.const 0x04030201))
        (assert_return (invoke "ld" (i32.const 0) (i32.const 4)) (i32.const 0x08070605))
        (assert_return (invoke "ld" (i32.const -8) (i32.const 5)) (i32.const 0x04030201))
        (assert_return (invoke "st" (i32.const -16) (i32.const 3) (i64.const -1)))
        (assert_return (invoke "ld" (i32.const 4) (i32.const 0)) (i32.const -1))
        (assert_return (invoke "tee" (i32.const 1) (i32.const 4)) (i32.const 0xff))
        (assert_trap (invoke "ld" (i32.const 65528) (i32.const 1)) "out of bounds memory access")
        (assert_trap (invoke "st" (i32.const 65529) (i32.const 0) (i64.const 0)) "out of bounds memory access")"#
    ));
}

/// f64 operations take over the `f64.load` of an operand (either side; `…MR`: the loaded
/// operand on the right), also when the load added a constant to its address; the register
/// forms read the address from the integer register and `b` from the f64 register. Results,
/// wrap-around and traps are those of the separate instructions.
#[test]
fn f64_operations_take_over_loads() {
    use crate::compile::ir::Instr;
    let body = r#"(module (memory 1)
      (func (export "put") (param $p i32) (param $v f64) (f64.store (local.get $p) (local.get $v)))
      (func (export "sub_m") (param $p i32) (param $x f64) (result f64)
        (f64.sub (f64.load (local.get $p)) (local.get $x)))
      (func (export "sub_mr") (param $p i32) (param $x f64) (result f64)
        (f64.sub (local.get $x) (f64.load offset=8 (local.get $p))))
      (func (export "div_at") (param $p i32) (param $x f64) (result f64)
        (f64.div (local.get $x) (f64.load offset=4 (i32.add (local.get $p) (i32.const 8)))))
      (func (export "chain") (param $p i32) (param $q i32) (param $x f64) (result f64) (local $s i32)
        (local.set $s (i32.add (local.get $p) (local.get $q)))
        (f64.add (f64.mul (f64.load (local.get $s)) (local.get $x)) (f64.load offset=8 (local.get $s))))
      (func (export "label") (param $p i32) (param $x f64) (result f64)
        (f64.div (block (result f64) (f64.load (local.get $p))) (local.get $x))))"#;
    let has = |f: usize, want: fn(&Instr) -> bool| {
        let code = lower(body, f);
        assert!(code.iter().any(want), "{code:?}");
        assert!(!code.iter().any(|i| matches!(i, Instr::F64Load(_) | Instr::F64LoadAt(_))), "{code:?}");
    };
    has(1, |i| matches!(i, Instr::F64SubM(_)));
    has(2, |i| matches!(i, Instr::F64SubMR(x) if x.offset == 8));
    has(3, |i| matches!(i, Instr::F64DivMR(x) if x.imm == 8 && x.offset == 4));
    has(4, |i| matches!(i, Instr::F64MulMA(_)));
    has(4, |i| matches!(i, Instr::F64AddMAB(x) if x.offset == 8));
    let label = lower(body, 5);
    assert!(label.iter().any(|i| matches!(i, Instr::F64Div(_) | Instr::F64DivA(_))), "{label:?}");
    run(&format!(
        r#"{body}
        (assert_return (invoke "put" (i32.const 0) (f64.const 1.5)))
        (assert_return (invoke "put" (i32.const 8) (f64.const 0.5)))
        (assert_return (invoke "put" (i32.const 16) (f64.const -2)))
        (assert_return (invoke "sub_m" (i32.const 0) (f64.const 0.25)) (f64.const 1.25))
        (assert_return (invoke "sub_mr" (i32.const 0) (f64.const 0.25)) (f64.const -0.25))
        (assert_return (invoke "sub_m" (i32.const 8) (f64.const nan)) (f64.const nan:arithmetic))
        (assert_return (invoke "div_at" (i32.const 4) (f64.const 3)) (f64.const -1.5))
        (assert_return (invoke "div_at" (i32.const -8) (f64.const 1)) (f64.const inf))
        (assert_return (invoke "chain" (i32.const 4) (i32.const 4) (f64.const 4)) (f64.const 0))
        (assert_return (invoke "chain" (i32.const 0) (i32.const 0) (f64.const -4)) (f64.const -5.5))
        (assert_return (invoke "label" (i32.const 16) (f64.const -0.5)) (f64.const 4))
        (assert_trap (invoke "sub_m" (i32.const 65529) (f64.const 0)) "out of bounds memory access")
        (assert_trap (invoke "sub_mr" (i32.const 65521) (f64.const 0)) "out of bounds memory access")
        (assert_trap (invoke "div_at" (i32.const 65520) (f64.const 0)) "out of bounds memory access")
        (assert_trap (invoke "chain" (i32.const 65528) (i32.const 0) (f64.const 0)) "out of bounds memory access")"#
    ));
}

/// An f64 operation on a loaded operand, stored back to the same address (same slot, no
/// added constant, same offset), becomes an update of memory; with another address or
/// offset it stays an operation and a store.
#[test]
fn f64_updates_of_memory() {
    use crate::compile::ir::Instr;
    let body = r#"(module (memory 1)
      (func (export "put") (param $p i32) (param $v f64) (f64.store (local.get $p) (local.get $v)))
      (func (export "get") (param $p i32) (result f64) (f64.load (local.get $p)))
      (func (export "add") (param $p i32) (param $y f64)
        (f64.store (local.get $p) (f64.add (f64.load (local.get $p)) (local.get $y))))
      (func (export "subr") (param $p i32) (param $y f64)
        (f64.store offset=8 (local.get $p) (f64.sub (local.get $y) (f64.load offset=8 (local.get $p)))))
      (func (export "divr") (param $p i32) (param $q i32) (param $x f64) (local $s i32)
        (local.set $s (i32.add (local.get $p) (local.get $q)))
        (f64.store (local.get $s) (f64.div (f64.mul (local.get $x) (local.get $x)) (f64.load (local.get $s)))))
      (func (export "other_offset") (param $p i32) (param $y f64)
        (f64.store offset=8 (local.get $p) (f64.mul (f64.load (local.get $p)) (local.get $y))))
      (func (export "other_addr") (param $p i32) (param $q i32) (param $y f64)
        (f64.store (local.get $q) (f64.mul (f64.load (local.get $p)) (local.get $y)))))"#;
    let code = |f: usize| lower(body, f);
    let is_store = |i: &Instr| matches!(i, Instr::I64Store(_) | Instr::F64StoreV(_));
    assert!(code(2).iter().any(|i| matches!(i, Instr::F64AddU(_))), "{:?}", code(2));
    assert!(code(3).iter().any(|i| matches!(i, Instr::F64SubUR(x) if x.offset == 8)), "{:?}", code(3));
    assert!(code(4).iter().any(|i| matches!(i, Instr::F64DivURAV(_))), "{:?}", code(4));
    for f in 2..=4 {
        assert!(!code(f).iter().any(is_store), "{:?}", code(f));
    }
    for f in 5..=6 {
        assert!(code(f).iter().any(|i| matches!(i, Instr::F64MulM(_))), "{:?}", code(f));
        assert!(code(f).iter().any(is_store), "{:?}", code(f));
    }
    run(&format!(
        r#"{body}
        (assert_return (invoke "put" (i32.const 0) (f64.const 1.5)))
        (assert_return (invoke "put" (i32.const 8) (f64.const 0.5)))
        (assert_return (invoke "add" (i32.const 0) (f64.const 2)))
        (assert_return (invoke "get" (i32.const 0)) (f64.const 3.5))
        (assert_return (invoke "subr" (i32.const 0) (f64.const 2)))
        (assert_return (invoke "get" (i32.const 8)) (f64.const 1.5))
        (assert_return (invoke "divr" (i32.const 4) (i32.const 4) (f64.const 3)))
        (assert_return (invoke "get" (i32.const 8)) (f64.const 6))
        (assert_return (invoke "other_offset" (i32.const 0) (f64.const 2)))
        (assert_return (invoke "get" (i32.const 0)) (f64.const 3.5))
        (assert_return (invoke "get" (i32.const 8)) (f64.const 7))
        (assert_return (invoke "other_addr" (i32.const 8) (i32.const 16) (f64.const 0.5)))
        (assert_return (invoke "get" (i32.const 16)) (f64.const 3.5))
        (assert_trap (invoke "add" (i32.const 65529) (f64.const 1)) "out of bounds memory access")
        (assert_trap (invoke "subr" (i32.const 65521) (f64.const 1)) "out of bounds memory access")
        (assert_trap (invoke "divr" (i32.const 65528) (i32.const 1) (f64.const 1)) "out of bounds memory access")"#
    ));
}

/// An `i32.wrap_i64` feeding an operator that reads its i32 operands truncated is dropped
/// (the operator reads the i64 slot); one feeding a `local.set` stays. An address that is
/// the `i32.add` of two slots becomes an indexed access with shift 0 (either operand may
/// come from the integer register), wrapping like the add.
#[test]
fn wraps_and_plain_indexed_addresses() {
    use crate::compile::ir::Instr;
    let body = r#"(module (memory 1)
      (func (export "add") (param $x i64) (result i32) (i32.add (i32.wrap_i64 (local.get $x)) (i32.const 1)))
      (func (export "ext") (param $x i64) (result i64) (i64.extend_i32_u (i32.wrap_i64 (local.get $x))))
      (func (export "set") (param $x i64) (result i32) (local $l i32)
        (local.set $l (i32.wrap_i64 (local.get $x))) (local.get $l))
      (func (export "ld") (param $x i64) (param $b i32) (result i32)
        (i32.load8_u (i32.add (i32.wrap_i64 (local.get $x)) (local.get $b))))
      (func (export "st") (param $a i32) (param $b i32) (param $v i32)
        (i32.store8 (i32.add (local.get $a) (local.get $b)) (local.get $v)))
      (func (export "st64") (param $x i64) (result i64)
        (i64.store (i32.const 0) (i64.extend_i32_u (i32.wrap_i64 (local.get $x))))
        (i64.load (i32.const 0)))
      (func (export "stf64") (param $x i64) (result i64)
        (f64.store (i32.const 8) (f64.reinterpret_i64 (i64.extend_i32_u (i32.wrap_i64 (local.get $x)))))
        (i64.load (i32.const 8)))
      (func (export "reg") (param $b i32) (param $i i32) (result i32)
        (local.set $b (i32.mul (local.get $b) (i32.const 3)))
        (i32.load (i32.add (local.get $b) (local.get $i)))))"#;
    let wraps = |f: usize| lower(body, f).iter().filter(|i| matches!(i, Instr::I32WrapI64(_))).count();
    // `i64.extend_i32_u` is no instruction: the wrap is what zero-extends.
    assert_eq!((wraps(0), wraps(1), wraps(2), wraps(3)), (0, 1, 1, 0));
    let ld = lower(body, 3);
    assert!(matches!(ld[1], Instr::I32Load8UIdx(x) if x.shift == 0 && x.base == 0 && x.idx == 1), "{ld:?}");
    let st = lower(body, 4);
    assert!(st.iter().any(|i| matches!(i, Instr::I32Store8Idx(x) if x.shift == 0)), "{st:?}");
    let reg = lower(body, 7);
    assert!(reg.iter().any(|i| matches!(i, Instr::I32LoadIdxA(x) if x.idx == 0 && x.base == 1)), "{reg:?}");
    run(&format!(
        r#"{body}
        (assert_return (invoke "add" (i64.const 0x1_0000_0005)) (i32.const 6))
        (assert_return (invoke "add" (i64.const 0x7_ffff_ffff)) (i32.const 0))
        (assert_return (invoke "ext" (i64.const -1)) (i64.const 0xffff_ffff))
        (assert_return (invoke "set" (i64.const 0x1_0000_0002)) (i32.const 2))
        (assert_return (invoke "st" (i32.const -1) (i32.const 5) (i32.const 0x1ab)))
        (assert_return (invoke "ld" (i64.const 0x1_0000_0003) (i32.const 1)) (i32.const 0xab))
        (assert_return (invoke "ld" (i64.const -1) (i32.const 5)) (i32.const 0xab))
        (assert_return (invoke "reg" (i32.const 1) (i32.const 1)) (i32.const 0xab))
        (assert_return (invoke "st64" (i64.const -1)) (i64.const 0xffff_ffff))
        (assert_return (invoke "stf64" (i64.const -1)) (i64.const 0xffff_ffff))
        (assert_trap (invoke "ld" (i64.const 0xffff) (i32.const 1)) "out of bounds memory access")
        (assert_trap (invoke "st" (i32.const 65535) (i32.const 1) (i32.const 0)) "out of bounds memory access")"#
    ));
}

/// `select` on a bit test (`and` with a constant, directly or through `eqz`) becomes one
/// `SelectAnd`; not when the `eqz` and the `and` differ in width (a wrap between them).
#[test]
fn select_on_bit_tests() {
    use crate::compile::ir::Instr;
    let body = r#"(module
      (func (export "and") (param $a i32) (param $b i32) (param $x i32) (result i32)
        (select (local.get $a) (local.get $b) (i32.and (local.get $x) (i32.const 4))))
      (func (export "eqz") (param $a i32) (param $b i32) (param $x i32) (result i32)
        (select (local.get $a) (local.get $b) (i32.eqz (i32.and (local.get $x) (i32.const 4)))))
      (func (export "eqz64") (param $a i64) (param $b i64) (param $x i64) (result i64)
        (select (local.get $a) (local.get $b) (i64.eqz (i64.and (local.get $x) (i64.const -2)))))
      (func (export "wrapped") (param $a i32) (param $b i32) (param $x i64) (result i32)
        (select (local.get $a) (local.get $b)
          (i32.eqz (i32.wrap_i64 (i64.and (local.get $x) (i64.const -1))))))
      (func (export "collatz") (param $x i64) (result i64)
        (select (i64.shr_u (local.get $x) (i64.const 1))
                (i64.add (i64.mul (local.get $x) (i64.const 3)) (i64.const 1))
                (i64.eqz (i64.and (local.get $x) (i64.const 1))))))"#;
    let one = |f: usize, want: fn(&Instr) -> bool| {
        let code = lower(body, f);
        assert_eq!(code.iter().filter(|i| want(i)).count(), 1, "{code:?}");
        assert!(!code.iter().any(|i| matches!(i, Instr::I32AndImm(_) | Instr::I64AndImm(_))), "{code:?}");
    };
    one(0, |i| matches!(i, Instr::SelectAnd { a: 0, b: 1, c: 2, mask: 4, .. }));
    one(1, |i| matches!(i, Instr::SelectAnd { a: 1, b: 0, c: 2, mask: 4, .. }));
    one(2, |i| matches!(i, Instr::SelectAnd64 { a: 1, b: 0, c: 2, mask: -2, .. }));
    one(4, |i| matches!(i, Instr::SelectAnd64A { .. }));
    let wrapped = lower(body, 3);
    assert!(!wrapped.iter().any(|i| matches!(i, Instr::SelectAnd64 { .. })), "{wrapped:?}");
    run(&format!(
        r#"{body}
        (assert_return (invoke "and" (i32.const 10) (i32.const 20) (i32.const 4)) (i32.const 10))
        (assert_return (invoke "and" (i32.const 10) (i32.const 20) (i32.const 3)) (i32.const 20))
        (assert_return (invoke "eqz" (i32.const 10) (i32.const 20) (i32.const 4)) (i32.const 20))
        (assert_return (invoke "eqz" (i32.const 10) (i32.const 20) (i32.const 3)) (i32.const 10))
        (assert_return (invoke "eqz64" (i64.const 10) (i64.const 20) (i64.const 0x1_0000_0000)) (i64.const 20))
        (assert_return (invoke "eqz64" (i64.const 10) (i64.const 20) (i64.const 1)) (i64.const 10))
        (assert_return (invoke "wrapped" (i32.const 10) (i32.const 20) (i64.const 0x1_0000_0000)) (i32.const 10))
        (assert_return (invoke "wrapped" (i32.const 10) (i32.const 20) (i64.const 0x1_0000_0001)) (i32.const 20))
        (assert_return (invoke "collatz" (i64.const 6)) (i64.const 3))
        (assert_return (invoke "collatz" (i64.const 7)) (i64.const 22))"#
    ));
}

/// `x += y` of two slots right before `br_if (x OP z)` becomes one `…AddBr…S`, either
/// operand order of the add, wrapping at the add's width.
#[test]
fn loop_steps_by_a_slot() {
    use crate::compile::ir::Instr;
    let body = r#"(module
      (func (export "le64") (param $n i64) (param $step i64) (result i64) (local $x i64) (local $c i64)
        (loop $l
          (local.set $c (i64.add (local.get $c) (i64.const 1)))
          (br_if $l (i64.le_u (local.tee $x (i64.add (local.get $x) (local.get $step))) (local.get $n))))
        (local.get $c))
      (func (export "ne32") (param $n i32) (param $step i32) (result i32) (local $x i32) (local $c i32)
        (loop $l
          (local.set $c (i32.add (local.get $c) (i32.const 1)))
          (br_if $l (i32.ne (local.tee $x (i32.add (local.get $step) (local.get $x))) (local.get $n))))
        (local.get $c)))"#;
    let le = lower(body, 0);
    assert!(
        le.iter().any(|i| matches!(i, Instr::I64LeUStepBr(x) if x.a == 2 && x.add == 1 && x.b == 0)),
        "{le:?}"
    );
    let ne = lower(body, 1);
    assert!(
        ne.iter().any(|i| matches!(i, Instr::I32NeStepBr(x) if x.a == 2 && x.add == 1 && x.b == 0)),
        "{ne:?}"
    );
    run(&format!(
        r#"{body}
        (assert_return (invoke "le64" (i64.const 10) (i64.const 3)) (i64.const 4))
        (assert_return (invoke "le64" (i64.const 5) (i64.const -1)) (i64.const 1))
        (assert_return (invoke "ne32" (i32.const -3) (i32.const -1)) (i32.const 3))
        (assert_return (invoke "ne32" (i32.const 6) (i32.const 2)) (i32.const 3))"#
    ));
}

/// Constant store values become immediates (truncated to the store's width; a 64-bit value
/// only when it fits a sign-extended i32).
#[test]
fn constant_store_values() {
    use crate::compile::ir::Instr;
    let body = r#"(module (memory 1)
      (func (export "s") (param $a i32)
        (i64.store (local.get $a) (i64.const -2))
        (i64.store offset=8 (local.get $a) (i64.const 0x1_0000_0005))
        (i32.store8 offset=16 (local.get $a) (i32.const 0x1ff))
        (i64.store32 offset=20 (local.get $a) (i64.const 0x7_8000_0001))
        (i64.store16 offset=24 (local.get $a) (i64.const -1)))
      (func (export "ld") (param $a i32) (result i64) (i64.load (local.get $a))))"#;
    let code = lower(body, 0);
    let ks = code
        .iter()
        .filter(|i| {
            matches!(
                i,
                Instr::I64StoreK(_) | Instr::I32Store8K(_) | Instr::I64Store32K(_) | Instr::I32Store16K(_)
            )
        })
        .count();
    assert_eq!(ks, 4, "{code:?}");
    run(&format!(
        r#"{body}
        (assert_return (invoke "s" (i32.const 100)))
        (assert_return (invoke "ld" (i32.const 100)) (i64.const -2))
        (assert_return (invoke "ld" (i32.const 108)) (i64.const 0x1_0000_0005))
        (assert_return (invoke "ld" (i32.const 116)) (i64.const 0x8000_0001_0000_00ff))
        (assert_return (invoke "ld" (i32.const 120)) (i64.const 0xffff_8000_0001))"#
    ));
}

/// `local.tee`/`local.set` of a computed value while older reads of the local are still
/// on the stack: the reads see the old value, the local the new one.
#[test]
fn set_and_tee_with_pending_reads_of_the_local() {
    run(r#"(module (memory 1)
      (func (export "tee") (param $x i32) (result i32)
        (i32.sub (local.get $x) (local.tee $x (i32.load (i32.const 0)))))
      (func (export "set") (param $x i32) (result i32)
        (local.get $x)
        (local.set $x (i32.mul (local.get $x) (i32.const 3)))
        (i32.sub (local.get $x)))
      (data (i32.const 0) "\05"))
      (assert_return (invoke "tee" (i32.const 12)) (i32.const 7))
      (assert_return (invoke "set" (i32.const 4)) (i32.const -8))"#);
}

/// `x += c` followed by a conditional branch on `x` becomes one instruction, but never
/// across a label (a branch landing between them must not run the add).
#[test]
fn loop_steps_fuse_but_not_across_labels() {
    use crate::compile::ir::Instr;
    let count = r#"(module (func (export "count") (result i32) (local $i i32) (local $c i32)
        (loop $l
          (local.set $c (i32.add (local.get $c) (i32.const 1)))
          (br_if $l (i32.ne (local.tee $i (i32.add (local.get $i) (i32.const 3))) (i32.const 30))))
        (local.get $c)))"#;
    assert!(lower(count, 0).iter().any(|i| matches!(i, Instr::I32NeStepImmBr(_))));
    let lab = r#"(module (func (export "lab") (param $x i32) (param $skip i32) (result i32)
        (block $done
          (block $b
            (br_if $b (local.get $skip))
            (local.set $x (i32.add (local.get $x) (i32.const 1))))
          (br_if $done (local.get $x))
          (return (i32.const 100)))
        (local.get $x)))"#;
    let code = lower(lab, 0);
    assert!(!code.iter().any(|i| format!("{i:?}").contains("Step")), "{code:?}");
    run(&format!(
        r#"{count}
        (assert_return (invoke "count") (i32.const 10))
        {lab}
        (assert_return (invoke "lab" (i32.const -1) (i32.const 1)) (i32.const -1))
        (assert_return (invoke "lab" (i32.const -1) (i32.const 0)) (i32.const 100))
        (assert_return (invoke "lab" (i32.const 4) (i32.const 0)) (i32.const 5))"#
    ));
}

/// `select(a, b, eqz(c))` becomes `select(b, a, c)`; for `i64.eqz` all 64 bits of `c`
/// count.
#[test]
fn select_on_eqz_swaps_operands() {
    use crate::compile::ir::Instr;
    let m = r#"(module
      (func (export "s32") (param $a i32) (param $b i32) (param $c i32) (result i32)
        (select (local.get $a) (local.get $b) (i32.eqz (local.get $c))))
      (func (export "s64") (param $a i32) (param $b i32) (param $c i64) (result i32)
        (select (local.get $a) (local.get $b) (i64.eqz (local.get $c)))))"#;
    let code = lower(m, 0);
    assert!(code.iter().any(|i| matches!(i, Instr::Select { a: 1, b: 0, cond: 2, .. })), "{code:?}");
    assert!(!code.iter().any(|i| matches!(i, Instr::I32Eqz(_))), "{code:?}");
    let code = lower(m, 1);
    assert!(code.iter().any(|i| matches!(i, Instr::Select64 { .. })), "{code:?}");
    run(&format!(
        r#"{m}
        (assert_return (invoke "s32" (i32.const 10) (i32.const 20) (i32.const 0)) (i32.const 10))
        (assert_return (invoke "s32" (i32.const 10) (i32.const 20) (i32.const 7)) (i32.const 20))
        (assert_return (invoke "s64" (i32.const 1) (i32.const 2) (i64.const 0)) (i32.const 1))
        (assert_return (invoke "s64" (i32.const 1) (i32.const 2) (i64.const 0x1_0000_0000)) (i32.const 2))
        (assert_return (invoke "s64" (i32.const 1) (i32.const 2) (i64.const -1)) (i32.const 2))"#
    ));
}

/// Lowering on several threads gives the code lowering on one gives, and the same error: that
/// of the first invalid body.
#[test]
fn lowering_on_threads_matches_lowering_on_one() {
    let mut wat = String::from("(module (memory 1) (global $g (mut i32) (i32.const 0))\n");
    for i in 0..300 {
        // Bodies of different shapes and sizes, so that the runs split unevenly.
        let body = match i % 4 {
            0 => format!("(local.get 0) (i32.const {i}) (i32.add)"),
            1 => "(block (loop (br_if 1 (i32.eqz (local.get 0))) (local.set 0 (i32.sub (local.get 0) (i32.const 1))) (br 0))) (local.get 0)".repeat(1 + i % 7).replace(") (local.get 0)(block", ") (drop (local.get 0)) (block"),
            2 => format!("(i32.store (local.get 0) (i32.const {i})) (i32.load offset=4 (local.get 0))"),
            // The same v128 constants (pool entries) in functions of different runs.
            _ if i % 8 == 3 => "(i32x4.extract_lane 1 (i32x4.add (v128.const i32x4 1 2 3 4) (i8x16.shuffle 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 (v128.const i32x4 1 2 3 4) (v128.const i32x4 5 6 7 8))))".to_string(),
            _ => format!("(global.set $g (i32.mul (global.get $g) (local.get 0))) (i32.const {i})"),
        };
        wat.push_str(&format!("(func (param i32) (result i32) {body})\n"));
    }
    wat.push(')');
    let bytes = wat_bytes(&wat);
    let one = crate::parse::Module::new_with_threads(&bytes, 1).unwrap();
    for threads in [2, 3, 4] {
        let many = crate::parse::Module::new_with_threads(&bytes, threads).unwrap();
        assert_eq!(format!("{:?}", one.code), format!("{:?}", many.code), "{threads} threads");
        assert_eq!(
            format!("{:?}", one.lower_all().unwrap()),
            format!("{:?}", many.lower_all().unwrap()),
            "{threads} threads: lowered"
        );
        assert_eq!(one.pool, many.pool, "{threads} threads: the pool");
    }
    // An invalid body near the end and one near the start: the first is reported.
    let bad = wat
        .replacen(
            "(func (param i32) (result i32) (local.get 0) (i32.const 280)",
            "(func (param i32) (result i32) (i64.const 1)",
            1,
        )
        .replacen(
            "(func (param i32) (result i32) (local.get 0) (i32.const 8)",
            "(func (param i32) (result i32) (f32.const 1)",
            1,
        );
    let bytes = wat_bytes(&bad);
    let e1 = crate::parse::Module::new_with_threads(&bytes, 1).unwrap_err().to_string();
    for threads in [2, 4] {
        let e = crate::parse::Module::new_with_threads(&bytes, threads).unwrap_err().to_string();
        assert_eq!(e, e1, "{threads} threads");
    }
    assert!(e1.contains("f32"), "{e1}");
}

/// Operands the validator types more precisely than the declared types (`ref.func` pushes a
/// non-null reference to its function's type, `ref.null func` one to `nofunc`) are `funcref`s
/// in the stack maps: live at a loop header, below a call and as a call's argument, under both
/// lowerings (found by the differential fuzzer: such modules were refused).
#[test]
fn typed_references_on_the_stack_at_loops_and_calls() {
    use crate::compile::stackmap::Loc;
    use crate::compile::Lowering;
    use crate::runtime::value::ValType;
    let wat = r#"(module
      (type $t (func (result i32)))
      (table 2 funcref)
      (elem declare func $one)
      (func $one (result i32) (i32.const 1))
      (func $id (param funcref) (result funcref) (local.get 0))
      (func $pick (param funcref) (param i32) (result i32)
        (table.set (i32.const 0) (local.get 0))
        (i32.add (local.get 1) (call_indirect (type $t) (i32.const 0))))
      (func (export "f") (result i32) (local $n i32)
        (ref.func $one)
        (loop (param funcref) (result funcref)
          (local.set $n (i32.add (local.get $n) (i32.const 1)))
          (br_if 0 (call $id) (i32.lt_u (local.get $n) (i32.const 3))))
        (ref.null func)
        (drop (call $id))
        (call $pick (i32.const 10))))"#;
    let bytes = wat_bytes(wat);
    for lowering in [Lowering::Optimized, Lowering::Plain] {
        let m = crate::parse::Module::with_lowering(&bytes, lowering).unwrap();
        let code = m.lower_all().unwrap().0;
        let f = &code[3];
        let map = f.stack_map();
        let refs: Vec<(ValType, Loc)> = map
            .points()
            .iter()
            .flat_map(|p| map.entries(p))
            .filter(|(t, _)| *t == ValType::FuncRef)
            .collect();
        assert!(refs.len() >= 4, "{lowering:?}: {refs:?}");
    }
    run(&format!(r#"{wat} (assert_return (invoke "f") (i32.const 11))"#));
}

/// A hostile body — a deep operand stack, then many calls — cannot make the stack maps
/// quadratic in its size: past the function's budget, points are recorded without their
/// operand stack (a frame there cannot be checkpointed), and the module still runs. (Found in
/// review: 220 KB of such code made 4 GiB of maps.)
#[test]
fn stack_maps_stay_within_their_budget() {
    use crate::compile::stackmap::{BUDGET_BASE, BUDGET_PER_BYTE};
    use crate::compile::Lowering;
    let (k, c) = (20_000, 300);
    let wat = format!(
        r#"(module (func $nop) (func (export "f") (result i32) {} {} (i32.const 7) (return)))"#,
        "(i32.const 0) ".repeat(k),
        "(call $nop) ".repeat(c)
    );
    let bytes = wat_bytes(&wat);
    for lowering in [Lowering::Optimized, Lowering::Plain] {
        let m = crate::parse::Module::with_lowering(&bytes, lowering).unwrap();
        let code = m.lower_all().unwrap().0;
        let map = code[1].stack_map();
        let points = map.points();
        let mapped = points.iter().filter(|p| map.is_mapped(p)).count();
        let entries: u64 = points.iter().map(|p| u64::from(map.height(p))).sum();
        let body = (2 * k + 2 * c + 10) as u64;
        assert!(entries <= BUDGET_BASE + BUDGET_PER_BYTE * body, "{lowering:?}: {entries} entries");
        assert!(
            mapped >= 2 && mapped < points.len() / 2,
            "{lowering:?}: {mapped} of {} mapped",
            points.len()
        );
        assert!(map.heap_bytes() < 4 << 20, "{lowering:?}: {} bytes", map.heap_bytes());
    }
    run(&format!(r#"{wat} (assert_return (invoke "f") (i32.const 7))"#));
}

/// Lane-wise `v128` operations take over the `v128.load` of an operand (`M`: the left one,
/// `MR`: the right one, with an added constant too) and `v128.store` of their result to the
/// loaded address becomes an update of memory (`U`, `UR`); not under the plain lowering.
/// (Values: tests/wast/simd_data.wast.)
#[test]
fn v128_operations_on_memory() {
    use crate::compile::ir::Instr;
    let body = r#"(module (memory 1)
      (func (param $p i32) (param $x v128) (result v128) (f32x4.sub (v128.load (local.get $p)) (local.get $x)))
      (func (param $p i32) (param $x v128) (result v128) (f32x4.sub (local.get $x) (v128.load offset=16 (local.get $p))))
      (func (param $p i32) (param $x v128) (result v128) (i32x4.mul (v128.load (i32.add (local.get $p) (i32.const 16))) (local.get $x)))
      (func (param $p i32) (param $x v128) (v128.store (local.get $p) (f64x2.div (v128.load (local.get $p)) (local.get $x))))
      (func (param $p i32) (param $x v128) (v128.store (local.get $p) (f64x2.div (local.get $x) (v128.load (local.get $p)))))
      (func (param $p i32) (param $x v128) (v128.store offset=8 (local.get $p) (i16x8.sub (v128.load offset=8 (local.get $p)) (local.get $x))))
      ;; another address: no update
      (func (param $p i32) (param $x v128) (v128.store offset=16 (local.get $p) (i16x8.sub (v128.load (local.get $p)) (local.get $x)))))"#;
    let has = |f: usize, pred: &dyn Fn(&Instr) -> bool| lower(body, f).iter().any(pred);
    assert!(has(0, &|i| matches!(i, Instr::F32x4SubM(m) if m.imm == 0)));
    assert!(has(1, &|i| matches!(i, Instr::F32x4SubMR(m) if m.offset == 16)));
    assert!(has(2, &|i| matches!(i, Instr::I32x4MulM(m) if m.imm == 16)));
    assert!(has(3, &|i| matches!(i, Instr::F64x2DivU(_))));
    assert!(has(4, &|i| matches!(i, Instr::F64x2DivUR(_))));
    assert!(has(5, &|i| matches!(i, Instr::I16x8SubU(s) if s.offset == 8)));
    assert!(has(6, &|i| matches!(i, Instr::I16x8SubM(_))) && !has(6, &|i| matches!(i, Instr::I16x8SubU(_))));
    let m = crate::parse::Module::with_lowering(&wat_bytes(body), crate::compile::Lowering::Plain).unwrap();
    assert!(m
        .lower_all()
        .unwrap()
        .0
        .iter()
        .flat_map(|f| &f.code)
        .all(|i| !matches!(i, Instr::F32x4SubM(_) | Instr::F64x2DivU(_))));
}

/// A function the lowering refuses (more than 65535 slots of locals and operands) fails the
/// load, called or not, as before lowering became lazy: validation bounds the slots, and a body
/// near the limit is lowered at load. Below the limit such a body loads and runs.
#[test]
fn functions_too_complex_to_lower_fail_the_load() {
    let locals = format!("(module (func (local {})))", "v128 ".repeat(40_000));
    let consts = |n: usize| {
        format!(
            "(module (func (export \"f\") (result i32) {} {} (i32.const 5)))",
            "(i32.const 1) ".repeat(n),
            "(drop) ".repeat(n)
        )
    };
    for wat in [locals, consts(70_000)] {
        let e = crate::parse::Module::new(&wat_bytes(&wat)).unwrap_err().to_string();
        assert!(e.contains("function too complex"), "{e}");
    }
    // 31000 operands: over the bound, so lowered at load, and fine.
    let m = crate::parse::Module::new(&wat_bytes(&consts(31_000))).unwrap();
    assert!(!m.code[0].is_lazy(), "near the limit, the body is lowered at load");
    run(&format!(r#"{} (assert_return (invoke "f") (i32.const 5))"#, consts(31_000)));
    // 1000 operands: lowered on its first call.
    let m = crate::parse::Module::new(&wat_bytes(&consts(1000))).unwrap();
    assert!(m.code[0].is_lazy());
}

/// A `try_table` typed with a GC reference type is refused at load, like a `block` of one,
/// whether or not the function is ever called (bodies are lowered on their first call).
#[test]
fn gc_typed_try_table_is_refused_at_load() {
    let wat = "(module (func (try_table (result anyref) unreachable) drop))";
    let e = crate::parse::Module::new(&wat_bytes(wat)).unwrap_err().to_string();
    assert!(e.contains("garbage collection"), "{e}");
}
