// cxx_eh.cpp - C++ exception handling exercise for wasm32-wasip1 built with
// the standard (exnref / try_table) Wasm exception-handling encoding.
//
// Usage: cxx_eh [N] [boom] -> runs all scenarios, the throwing loop N times (default 100000),
//                             exit code 0; with `boom` it then throws an exception nobody
//                             catches (it leaves _start: the runtime traps, nonzero exit)
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

// ---------------------------------------------------------------- tracing RAII
static std::vector<std::string> g_log;      // destructor / event log
static long g_live = 0;                     // live Guard objects

struct Guard {
    std::string name;
    explicit Guard(std::string n) : name(std::move(n)) { ++g_live; }
    Guard(const Guard&) = delete;
    ~Guard() {
        --g_live;
        g_log.push_back("~" + name);
    }
};

static void dump_log(const char* title) {
    std::printf("  %s:", title);
    for (const auto& s : g_log) std::printf(" %s", s.c_str());
    std::printf("  (live=%ld)\n", g_live);
    g_log.clear();
}

// ---------------------------------------------------------- exception hierarchy
struct AppError : std::runtime_error {
    int code;
    AppError(const std::string& what, int c) : std::runtime_error(what), code(c) {}
};
struct ParseError : AppError {
    std::size_t pos;
    ParseError(const std::string& what, std::size_t p)
        : AppError("parse: " + what, 2), pos(p) {}
};
struct IoError : AppError {
    explicit IoError(const std::string& what) : AppError("io: " + what, 3) {}
};
struct NotAnException { int value; };   // thrown by value, not derived from std::exception

// ------------------------------------------- scenario 1: throw several frames deep
__attribute__((noinline)) static int level3(int x) {
    Guard g("L3");
    std::vector<int> v(16, x);
    if (x > 2) throw ParseError("bad token '" + std::to_string(x) + "'", static_cast<std::size_t>(x * 10));
    return v[3];
}
__attribute__((noinline)) static int level2(int x) {
    Guard g("L2");
    std::string s = "level2-" + std::to_string(x);
    return level3(x + 1) + static_cast<int>(s.size());
}
__attribute__((noinline)) static int level1(int x) {
    Guard g("L1");
    return level2(x + 1) * 2;
}

static void scenario_deep() {
    std::printf("[1] deep throw, catch by exact type\n");
    try {
        Guard outer("outer");
        int r = level1(1);          // 1 -> 2 -> 3 : level3 throws
        std::printf("  not reached %d\n", r);
    } catch (const ParseError& e) {
        std::printf("  caught ParseError: what='%s' code=%d pos=%zu\n", e.what(), e.code, e.pos);
    }
    dump_log("unwound");
    try {
        int r = level1(0);          // 0 -> 1 -> 2 : no throw
        std::printf("  no-throw path result=%d\n", r);
    } catch (...) {
        std::printf("  unexpected\n");
    }
    dump_log("normal");
}

// --------------------------------------------- scenario 2: catch by base class
__attribute__((noinline)) static void raise(int kind) {
    Guard g("raise" + std::to_string(kind));
    switch (kind) {
        case 0: throw ParseError("eof", 7);
        case 1: throw IoError("disk full");
        case 2: throw std::out_of_range("index 99");
        case 3: throw NotAnException{42};
        case 4: throw 1234;
        case 5: throw std::string("a std::string");
        default: break;
    }
}

static void scenario_base() {
    std::printf("[2] catch by base class / other types\n");
    for (int k = 0; k <= 6; ++k) {
        try {
            raise(k);
            std::printf("  kind %d: no exception\n", k);
        } catch (const AppError& e) {              // ParseError, IoError
            std::printf("  kind %d: AppError(code=%d) %s\n", k, e.code, e.what());
        } catch (const std::logic_error& e) {      // out_of_range
            std::printf("  kind %d: logic_error %s\n", k, e.what());
        } catch (const NotAnException& e) {
            std::printf("  kind %d: NotAnException value=%d\n", k, e.value);
        } catch (int i) {
            std::printf("  kind %d: int %d\n", k, i);
        } catch (const std::exception& e) {
            std::printf("  kind %d: std::exception %s\n", k, e.what());
        } catch (...) {
            std::printf("  kind %d: catch(...)\n", k);
        }
    }
    dump_log("unwound");
}

// -------------------------------- scenario 3: catch(...) + rethrow (throw;)
__attribute__((noinline)) static void middle_rethrow(int depth) {
    Guard g("mid" + std::to_string(depth));
    try {
        if (depth == 0) throw IoError("socket closed");
        middle_rethrow(depth - 1);
    } catch (...) {
        g_log.push_back("saw@" + std::to_string(depth));
        throw;                                     // rethrow the same object
    }
}

static void scenario_rethrow() {
    std::printf("[3] catch(...) with rethrow through 4 frames\n");
    try {
        middle_rethrow(3);
    } catch (const IoError& e) {
        std::printf("  caught after rethrows: %s code=%d\n", e.what(), e.code);
    }
    dump_log("log");

    // rethrow of a modified exception object (caught by reference)
    try {
        try {
            throw AppError("base", 10);
        } catch (AppError& e) {
            e.code += 5;
            throw;
        }
    } catch (const AppError& e) {
        std::printf("  modified code after rethrow: %d\n", e.code);
    }

    // nested: throw a new exception from inside a handler
    try {
        try {
            throw std::runtime_error("inner");
        } catch (const std::exception& e) {
            Guard g("handler");
            throw AppError(std::string("outer wraps ") + e.what(), 11);
        }
    } catch (const AppError& e) {
        std::printf("  nested: %s code=%d\n", e.what(), e.code);
    }
    dump_log("log");
}

// ------------------------- scenario 4: exception_ptr, library-thrown exceptions
static void scenario_library() {
    std::printf("[4] exception_ptr and exceptions thrown inside libc++\n");
    std::exception_ptr saved;
    try {
        throw ParseError("saved for later", 3);
    } catch (...) {
        saved = std::current_exception();
    }
    try {
        std::rethrow_exception(saved);
    } catch (const ParseError& e) {
        std::printf("  rethrow_exception: %s pos=%zu\n", e.what(), e.pos);
    }

    const char* inputs[] = {"123", "abc", "99999999999999999999", "-7"};
    for (const char* in : inputs) {
        try {
            int v = std::stoi(in);
            std::printf("  stoi(%s) = %d\n", in, v);
        } catch (const std::invalid_argument& e) {
            std::printf("  stoi(%s): invalid_argument (%s)\n", in, e.what());
        } catch (const std::out_of_range& e) {
            std::printf("  stoi(%s): out_of_range (%s)\n", in, e.what());
        }
    }

    std::vector<int> v{1, 2, 3};
    try {
        std::printf("  v.at(5) = %d\n", v.at(5));
    } catch (const std::out_of_range&) {
        std::printf("  v.at(5): out_of_range\n");
    }

    std::map<std::string, int> m{{"one", 1}};
    try {
        std::printf("  m.at(two) = %d\n", m.at("two"));
    } catch (const std::out_of_range&) {
        std::printf("  m.at(\"two\"): out_of_range\n");
    }

    std::function<int(int)> f;
    try {
        f(1);
    } catch (const std::bad_function_call& e) {
        std::printf("  empty std::function: bad_function_call\n");
    }

    // partially constructed object: members already built are destroyed
    struct Two {
        Guard a{"memberA"};
        Guard b;
        Two() : b("memberB") { throw std::runtime_error("ctor failed"); }
    };
    try {
        Two t;
    } catch (const std::runtime_error& e) {
        std::printf("  ctor threw: %s\n", e.what());
    }
    // unique_ptr cleanup during unwinding
    try {
        auto p = std::make_unique<Guard>("heap");
        std::vector<std::unique_ptr<Guard>> vec;
        for (int i = 0; i < 3; ++i) vec.push_back(std::make_unique<Guard>("vec" + std::to_string(i)));
        throw std::length_error("too long");
    } catch (const std::length_error& e) {
        std::printf("  length_error: %s\n", e.what());
    }
    dump_log("log");
}

// ---------------------------------- scenario 5: throwing many times in a loop
__attribute__((noinline)) static long work(long i) {
    Guard g("w");
    std::string s = "item" + std::to_string(i);
    if (i % 3 == 0) throw ParseError(s, static_cast<std::size_t>(i));
    if (i % 3 == 1) throw IoError(s);
    return static_cast<long>(s.size());
}
__attribute__((noinline)) static long work_wrapper(long i) {
    Guard g("ww");
    try {
        return work(i);
    } catch (const IoError&) {
        throw;       // rethrow IoError through this frame
    }
}

static void scenario_loop(long n) {
    std::printf("[5] %ld iterations, 2/3 of them throw\n", n);
    long parse = 0, io = 0, ok = 0, sum = 0;
    for (long i = 0; i < n; ++i) {
        try {
            sum += work_wrapper(i);
            ++ok;
        } catch (const ParseError& e) {
            ++parse;
            sum += static_cast<long>(e.pos % 7);
        } catch (const AppError& e) {
            ++io;
            sum += e.code;
        }
        if (g_log.size() > 64) g_log.clear();
    }
    g_log.clear();
    std::printf("  parse=%ld io=%ld ok=%ld sum=%ld live=%ld\n", parse, io, ok, sum, g_live);
}

// ------------------------------------------------------------------------ main
int main(int argc, char** argv) {
    std::printf("cxx-eh: C++ exceptions on wasm (exnref)\n");
    scenario_deep();
    scenario_base();
    scenario_rethrow();
    scenario_library();
    long n = 100000;
    bool boom = false;
    for (int i = 1; i < argc; ++i) {
        if (std::string(argv[i]) == "boom") {
            boom = true;
        } else {
            n = std::strtol(argv[i], nullptr, 10);
        }
    }
    scenario_loop(n);
    std::printf("uncaught_exceptions=%d live=%ld\n", std::uncaught_exceptions(), g_live);
    if (boom) {
        std::printf("throwing uncaught exception\n");
        std::fflush(stdout);
        Guard g("never-destroyed-maybe");
        throw AppError("uncaught: boom", 99);
    }
    std::printf("done\n");
    return 0;
}
