//! Show how a body is understood: `cargo run -p facteur-text --example show < body.txt`
//! (optional first argument: the From display name).

use std::io::Read;

fn main() {
    let mut body = String::new();
    if let Err(e) = std::io::stdin().read_to_string(&mut body) {
        eprintln!("cannot read stdin as UTF-8: {e}");
        std::process::exit(1);
    }
    let from = std::env::args().nth(1);
    let c = facteur_text::clean(&body);
    for s in &c.segments {
        println!("[{:?}]", s.kind);
        for l in s.text.lines() {
            println!("    {l}");
        }
    }
    let text = c.new_text();
    println!("language: {}", facteur_text::detect_language(&text).code());
    println!(
        "correspondent: {:?}",
        facteur_text::correspondent(&c, from.as_deref())
    );
    println!("fields: {:?}", facteur_text::extract_fields(&text));
    println!("flags: {:?}", facteur_text::detect_flags(&text));
}
