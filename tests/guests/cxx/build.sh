#!/usr/bin/env bash
# Build tests/guests/wasm/cxx_eh.wasm (from cxx_eh.cpp): a C++ program using C++ exceptions compiled to wasm32-wasip1
# with the *standard* Wasm exception-handling encoding (try_table / throw_ref / exnref).
#
# Toolchain: Zig from PyPI (package `ziglang`, bundles clang/LLVM 22 + lld + wasi-libc
# + libc++/libc++abi/libunwind *sources*). Zig builds libc++/libc++abi for wasm with
# -fno-exceptions, so this script builds its own copies of libc++, libc++abi (with
# cxa_exception.cpp/cxa_personality.cpp instead of cxa_noexception.cpp) and libunwind
# (Unwind-wasm.c) from the sources Zig ships, all with -fwasm-exceptions and
# -wasm-use-legacy-eh=false, and links them with Zig's wasi-libc.
#
# LEGACY=1 builds tests/guests/wasm/cxx_eh_legacy.wasm instead: the same program and libraries
# with the legacy encoding (try / catch / catch_all / rethrow / delegate), which clang emitted
# by default until LLVM 22 and which released binaries still contain.
#
# Optional: VERIFY=1 also installs binaryen from npm and checks the opcodes used.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
LEGACY="${LEGACY:-0}"
SUFFIX=""
[ "$LEGACY" = 1 ] && SUFFIX="_legacy"
OUT="${OUT:-$HERE/../wasm/cxx_eh$SUFFIX.wasm}"
BUILD="${BUILD:-$HERE/build}"
ZIG_VERSION="${ZIG_VERSION:-0.17.1}"
JOBS="${JOBS:-$(nproc)}"
mkdir -p "$BUILD"

# ---- toolchain from PyPI -------------------------------------------------------
if [ ! -x "$BUILD/venv/bin/python" ]; then
    python3 -m venv "$BUILD/venv"
fi
"$BUILD/venv/bin/pip" install -q "ziglang==$ZIG_VERSION"
ZIG=("$BUILD/venv/bin/python" -m ziglang)
ZLIB="$("$BUILD/venv/bin/python" -c 'import ziglang,os;print(os.path.join(os.path.dirname(ziglang.__file__),"lib"))')"
export ZIG_GLOBAL_CACHE_DIR="$BUILD/zig-cache" ZIG_LOCAL_CACHE_DIR="$BUILD/zig-cache"
echo "zig $("${ZIG[@]}" version), $("${ZIG[@]}" cc --version | head -1)"

# lime1 (zig's default wasm CPU) + exception handling; exnref needs reference types.
TARGET=(-target wasm32-wasi -mcpu=lime1+exception_handling+reference_types)
EH=(-fwasm-exceptions -mllvm -wasm-use-legacy-eh=false)
[ "$LEGACY" = 1 ] && EH=(-fwasm-exceptions -mllvm -wasm-use-legacy-eh=true)
OPT=(-O2 -DNDEBUG -w)

CXX_LIB_FLAGS=(-std=c++23 -fvisibility=hidden -fvisibility-inlines-hidden -faligned-allocation
    -D_LIBCPP_BUILDING_LIBRARY -DLIBCXX_BUILDING_LIBCXXABI -D_LIBCPP_HAS_NO_PRAGMA_SYSTEM_HEADER
    -DLIBC_NAMESPACE=__llvm_libc_common_utils
    -I "$ZLIB/libcxx/src" -I "$ZLIB/libcxx/libc")
CXXABI_FLAGS=(-std=c++23 -fvisibility=hidden -fvisibility-inlines-hidden -fstrict-aliasing
    -D_LIBCPP_BUILDING_LIBRARY -D_LIBCXXABI_BUILDING_LIBRARY -D_LIBCXXABI_HAS_NO_THREADS
    -I "$ZLIB/libcxxabi/include" -I "$ZLIB/libcxx/src")
UNWIND_FLAGS=(-std=c99 -I "$ZLIB/libunwind/include" -D_LIBUNWIND_HIDE_SYMBOLS -D_LIBUNWIND_IS_NATIVE_ONLY)

# Same source list Zig uses for wasm32-wasi (no threads, no filesystem).
LIBCXX_SRCS=(algorithm any bind call_once charconv chrono error_category exception expected
    fstream functional hash ios ios.instantiations iostream locale memory memory_resource new
    new_handler new_helpers optional ostream print random random_shuffle regex ryu/d2fixed
    ryu/d2s ryu/f2s stdexcept string strstream system_error typeinfo valarray variant vector
    verbose_abort)
LIBCXXABI_SRCS=(abort_message cxa_aux_runtime cxa_default_handlers cxa_demangle cxa_exception
    cxa_exception_storage cxa_guard cxa_handlers cxa_personality cxa_vector cxa_virtual
    fallback_malloc private_typeinfo stdlib_exception stdlib_new_delete stdlib_stdexcept
    stdlib_typeinfo)

compile_lib() {  # name srcdir ext flags-array-name srcs...
    local name=$1 dir=$2 ext=$3 flagsvar=$4; shift 4
    local -n flags=$flagsvar
    local odir="$BUILD/obj$SUFFIX/$name"; mkdir -p "$odir"
    local objs=() cmds=() driver=c++
    [ "$ext" = c ] && driver=cc
    for s in "$@"; do
        local o="$odir/${s//\//_}.o"; objs+=("$o")
        if [ ! -f "$o" ] || [ "$dir/$s.$ext" -nt "$o" ]; then
            cmds+=("${ZIG[*]} $driver ${TARGET[*]} ${EH[*]} ${OPT[*]} ${flags[*]} -c $dir/$s.$ext -o $o")
        fi
    done
    [ ${#cmds[@]} -eq 0 ] || printf '%s\n' "${cmds[@]}" | xargs -P "$JOBS" -I{} sh -c '{}'
    rm -f "$BUILD/lib$name$SUFFIX.a"
    "${ZIG[@]}" ar rcs "$BUILD/lib$name$SUFFIX.a" "${objs[@]}"
}

echo "building libc++ / libc++abi / libunwind with wasm exceptions ..."
compile_lib cxx    "$ZLIB/libcxx/src"    cpp CXX_LIB_FLAGS "${LIBCXX_SRCS[@]}"
compile_lib cxxabi "$ZLIB/libcxxabi/src" cpp CXXABI_FLAGS  "${LIBCXXABI_SRCS[@]}"
compile_lib unwind "$ZLIB/libunwind/src" c   UNWIND_FLAGS  Unwind-wasm

# The C++ exception tag. Recent LLVM no longer emits a weak definition of it in every
# object file; a runtime library has to define it (emscripten does the same in its
# compiler-rt). Its payload is the pointer to the _Unwind_Exception (i32 on wasm32).
cat > "$BUILD/cpp_exception_tag.S" <<'EOF'
.globl __cpp_exception
.tagtype __cpp_exception i32
__cpp_exception:
EOF
"${ZIG[@]}" cc "${TARGET[@]}" -c "$BUILD/cpp_exception_tag.S" -o "$BUILD/cpp_exception_tag.o"

echo "compiling cxx-eh.cpp ..."
"${ZIG[@]}" c++ "${TARGET[@]}" "${EH[@]}" -O2 -std=c++20 -Wall -c "$HERE/cxx_eh.cpp" -o "$BUILD/cxx-eh$SUFFIX.o"

# Link with `zig cc` (links Zig's wasi-libc, but not Zig's exception-less libc++).
"${ZIG[@]}" cc "${TARGET[@]}" -O2 -o "$OUT" "$BUILD/cxx-eh$SUFFIX.o" "$BUILD/cpp_exception_tag.o" \
    "$BUILD/libcxx$SUFFIX.a" "$BUILD/libcxxabi$SUFFIX.a" "$BUILD/libunwind$SUFFIX.a" -Wl,-z,stack-size=1048576 -Wl,--strip-debug
echo "built $OUT ($(stat -c %s "$OUT") bytes)"

if [ "${VERIFY:-0}" = 1 ]; then
    # binaryen (npm) disassembles the new EH instructions; count them.
    [ -x "$BUILD/npm/node_modules/.bin/wasm-dis" ] || npm i -s --prefix "$BUILD/npm" binaryen >/dev/null
    "$BUILD/npm/node_modules/.bin/wasm-dis" "$OUT" -o "$BUILD/cxx-eh$SUFFIX.wat"
    for op in try_table throw_ref '(throw ' '(try ' '(rethrow ' delegate exnref; do
        printf '%-12s %s\n' "$op" "$(grep -c -- "$op" "$BUILD/cxx-eh$SUFFIX.wat" || true)"
    done
fi
