#!/usr/bin/env python3
"""Third-engine tie breaker for the differential fuzzer: runs a module's exports on Wasmtime.

usage: python3 fuzz/triage.py MODULE.wasm [--fuel N]

Mirrors what fuzz/src/diff.rs does on chiwawa and wasmi: instantiate (the start function runs
here), then call every exported function in export order with zero / null arguments, each
with a fuel budget (default 1_000_000, like wasmi's), and finally print the exported globals,
memories (size and SHA-256) and tables (size and null pattern). NaNs print as their class
("nan"), like the fuzzer compares them. Produce MODULE.wasm from a fuzz input with

    cd fuzz && cargo run --release --example smith -- differential INPUT out.wasm

which also prints the chiwawa-vs-wasmi comparison, to hold next to this output.
Needs the `wasmtime` PyPI package (scripts/install-deps.sh installs wasmtime==50.0.1).
"""
import hashlib
import math
import sys

import wasmtime


def trap_text(t):
    code = getattr(t, "trap_code", None)
    lines = [l for l in t.message.splitlines() if l.strip()]
    return "%s (%s)" % (code, lines[-1].strip() if lines else "")


def show(v):
    if isinstance(v, float):
        return "nan" if math.isnan(v) else repr(v)
    if v is None:
        return "null"
    if isinstance(v, (wasmtime.Func,)):
        return "funcref"
    return repr(v)


def zero(t):
    if t == wasmtime.ValType.i32():
        return wasmtime.Val.i32(0)
    if t == wasmtime.ValType.i64():
        return wasmtime.Val.i64(0)
    if t == wasmtime.ValType.f32():
        return wasmtime.Val.f32(0.0)
    if t == wasmtime.ValType.f64():
        return wasmtime.Val.f64(0.0)
    if t == wasmtime.ValType.funcref():
        return wasmtime.Val.funcref(None)
    return wasmtime.Val.externref(None)


def main():
    args = sys.argv[1:]
    fuel = 1_000_000
    if "--fuel" in args:
        i = args.index("--fuel")
        fuel = int(args[i + 1])
        del args[i : i + 2]
    if len(args) != 1:
        sys.stderr.write(__doc__)
        sys.exit(2)
    cfg = wasmtime.Config()
    cfg.consume_fuel = True
    engine = wasmtime.Engine(cfg)
    store = wasmtime.Store(engine)
    module = wasmtime.Module.from_file(engine, args[0])
    store.set_fuel(fuel)
    try:
        inst = wasmtime.Instance(store, module, [])
    except wasmtime.Trap as t:
        print("start: trap: %s" % trap_text(t))
        return
    except Exception as e:  # link or instantiation error
        print("instantiate: error: %s" % e)
        return
    print("start: ok")
    exports = inst.exports(store)
    names = [e.name for e in module.exports]
    for name in names:
        f = exports[name]
        if not isinstance(f, wasmtime.Func):
            continue
        ty = f.type(store)
        store.set_fuel(fuel)
        try:
            r = f(store, *[zero(t) for t in ty.params])
            if r is None:
                r = []
            elif not isinstance(r, list):
                r = [r]
            print("%s: returned [%s]" % (name, ", ".join(show(x) for x in r)))
        except wasmtime.Trap as t:
            print("%s: trap: %s" % (name, trap_text(t)))
            if "fuel" in t.message or "stack" in t.message:
                print("(budget or stack: the fuzzer stops comparing here)")
                return
    for name in names:
        x = exports[name]
        if isinstance(x, wasmtime.Global):
            print("global %s = %s" % (name, show(x.value(store))))
        elif isinstance(x, wasmtime.Memory):
            data = x.read(store, 0, x.data_len(store))
            print("memory %s: %d bytes, sha256 %s" % (name, len(data), hashlib.sha256(data).hexdigest()))
        elif isinstance(x, wasmtime.Table):
            n = x.size(store)
            nulls = "".join("0" if x.get(store, i) is None else "1" for i in range(n))
            print("table %s: %d elements, non-null map %s" % (name, n, nulls))


if __name__ == "__main__":
    main()
