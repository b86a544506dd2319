#!/usr/bin/env python3
"""Reference WASI preview1 runner on the `wasmtime` PyPI package, mimicking `wasmtime run`.

usage: wasmtime-run.py [--dir HOST[::GUEST]]... [--env NAME[=VAL]]... [--argv0 NAME]
                       [--no-cache] MODULE [ARGS]...

Behaves like `wasmtime run` for core wasm command modules:
  * stdin/stdout/stderr are inherited;
  * argv[0] is the base name of MODULE unless --argv0 is given;
  * only --env variables are visible (NAME without '=' copies the host value, if set);
  * --dir HOST preopens HOST under the guest name HOST; --dir HOST::GUEST under GUEST;
  * `_initialize` is called if exported, then the "" or `_start` export;
  * exit status: the proc_exit code; 0 on a normal return; a trap prints
    "Error: ..." on stderr and exits 134 (128 + SIGABRT, like wasmtime on Unix);
    any other error (bad module, missing import, invalid exit code) exits 1.
Compiled code is cached in wasmtime's default cache dir (disable with --no-cache)
so repeated runs of the same module skip compilation, like the wasmtime CLI.
Install the dependency with scripts/install-deps.sh (pip install wasmtime==50.0.1).
"""
import os
import sys


def usage(msg):
    sys.stderr.write("wasmtime-run.py: %s\n" % msg)
    sys.stderr.write(__doc__.split("\n\n")[1] + "\n")
    sys.exit(2)


def parse(argv):
    dirs, envs, argv0, cache = [], [], None, True
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--":
            i += 1
            break
        if not a.startswith("--"):
            break
        if "=" in a and a.split("=", 1)[0] in ("--dir", "--env", "--argv0"):
            opt, val = a.split("=", 1)
            i += 1
        elif a in ("--dir", "--env", "--argv0"):
            if i + 1 >= len(argv):
                usage("missing value for %s" % a)
            opt, val = a, argv[i + 1]
            i += 2
        elif a == "--no-cache":
            cache = False
            i += 1
            continue
        elif a in ("-h", "--help"):
            print(__doc__)
            sys.exit(0)
        else:
            usage("unknown option %s" % a)
        if opt == "--dir":
            host, sep, guest = val.partition("::")
            dirs.append((host, guest if sep else host))
        elif opt == "--env":
            name, sep, value = val.partition("=")
            if sep:
                envs.append((name, value))
            elif name in os.environ:
                envs.append((name, os.environ[name]))
        else:
            argv0 = val
    if i >= len(argv):
        usage("missing MODULE")
    return dirs, envs, argv0, cache, argv[i], argv[i + 1:]


def main():
    dirs, envs, argv0, cache, module_path, args = parse(sys.argv[1:])
    try:
        import wasmtime
    except ImportError:
        sys.stderr.write("wasmtime-run.py: the `wasmtime` Python module is missing; "
                         "run scripts/install-deps.sh\n")
        return 1

    if argv0 is None:
        argv0 = os.path.basename(os.path.normpath(module_path)) or module_path

    config = wasmtime.Config()
    if cache:
        try:
            config.cache = True
        except Exception:  # cache unavailable (e.g. read-only HOME): just compile
            pass
    engine = wasmtime.Engine(config)
    store = wasmtime.Store(engine)
    linker = wasmtime.Linker(engine)
    linker.define_wasi()

    wasi = wasmtime.WasiConfig()
    wasi.argv = [argv0] + args
    wasi.env = envs
    wasi.inherit_stdin()
    wasi.inherit_stdout()
    wasi.inherit_stderr()
    for host, guest in dirs:
        if not os.path.isdir(host):
            sys.stderr.write("Error: failed to open directory %r\n" % host)
            return 1
        wasi.preopen_dir(host, guest)
    store.set_wasi(wasi)

    try:
        with open(module_path, "rb") as f:
            module = wasmtime.Module(engine, f.read())
    except OSError as e:
        sys.stderr.write("Error: failed to read module `%s`: %s\n" % (module_path, e.strerror))
        return 1
    except wasmtime.WasmtimeError as e:
        sys.stderr.write("Error: failed to compile module `%s`\n\nCaused by:\n    %s\n" % (module_path, e))
        return 1
    try:
        instance = linker.instantiate(store, module)
        exports = instance.exports(store)
        init = exports.get("_initialize")
        if init is not None:
            init(store)
        start = exports.get("")
        if start is None:
            start = exports.get("_start")
        if start is not None:
            start(store)
    except wasmtime.ExitTrap as e:
        return e.code
    except wasmtime.Trap as e:
        sys.stderr.write("Error: failed to run main module `%s`\n\nCaused by:\n    %s\n" % (module_path, e))
        return 134
    except wasmtime.WasmtimeError as e:
        sys.stderr.write("Error: failed to run main module `%s`\n\nCaused by:\n    %s\n" % (module_path, e))
        return 1
    return 0


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # os._exit: the guest wrote to fds 1/2 directly; skip interpreter teardown
    # (which can be slow with large linear memories) and keep the exact code.
    os._exit(code & 0xFF if code >= 0 else 1)
