//! wasm-smith configuration: the Wasm 2.0 chiwawa implements (SIMD included), plus the Wasm 3.0
//! parts wasm-smith and wasmi both have without GC: tail calls, extended constant expressions,
//! multi-memory, memory64 and table64 (typed function references and exceptions need GC in
//! wasm-smith, and wasmi has neither), and relaxed SIMD outside the differential target (wasmi
//! picks other relaxed results than chiwawa's deterministic ones: fused madd, wrapping dot).

use arbitrary::Unstructured;
use wasm_smith::Config;

/// Memory pages any generated memory may start with or declare as maximum (64 pages = 4 MiB);
/// the differential target gives both engines the same growth limit.
pub const MAX_PAGES: u64 = 64;

/// A Wasm 2.0 + tail calls + extended constants + multi-memory + memory64 (+ relaxed SIMD
/// but for the differential target) configuration. `diff`: for the differential target (NaNs
/// canonicalized, everything exported, no imports).
pub fn config(u: &mut Unstructured<'_>, diff: bool) -> arbitrary::Result<Config> {
    let mut c = Config {
        simd_enabled: true,
        relaxed_simd_enabled: !diff,
        threads_enabled: false,
        shared_everything_threads_enabled: false,
        gc_enabled: false,
        exceptions_enabled: false,
        tail_call_enabled: true,
        memory64_enabled: true,
        custom_page_sizes_enabled: false,
        wide_arithmetic_enabled: false,
        extended_const_enabled: true,
        multi_value_enabled: true,
        bulk_memory_enabled: true,
        reference_types_enabled: true,
        saturating_float_to_int_enabled: true,
        sign_extension_ops_enabled: true,
        max_memories: u.int_in_range(1..=3)?,
        max_tables: u.int_in_range(1..=3)?,
        max_memory32_bytes: MAX_PAGES * 65536,
        max_memory64_bytes: (MAX_PAGES * 65536) as u128,
        max_table_elements: 1000,
        max_funcs: 20,
        max_instructions: 200,
        max_globals: 20,
        max_data_segments: 10,
        max_element_segments: 10,
        max_elements: 50,
        max_types: 30,
        max_exports: 40,
        allow_start_export: true,
        ..Config::default()
    };
    if diff {
        c.canonicalize_nans = true;
        c.export_everything = true;
        c.max_imports = 0;
        c.min_funcs = 1;
    } else {
        c.max_imports = 0;
    }
    Ok(c)
}

/// A generated module's bytes, or `None` if the input ran out.
pub fn module(u: &mut Unstructured<'_>, diff: bool) -> Option<Vec<u8>> {
    let c = config(u, diff).ok()?;
    wasm_smith::Module::new(c, u).ok().map(|m| m.to_bytes())
}
