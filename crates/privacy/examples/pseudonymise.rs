//! Prints the pseudonymised copy of each file given on the command line, to
//! eyeball what the detector masks on real mail.

fn main() {
    let d = facteur_privacy::Detector::new();
    for path in std::env::args().skip(1) {
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let p = d.pseudonymise(&text);
                println!("==== {path} {:?}\n{}", p.kinds(), p.text);
            }
            Err(e) => eprintln!("{path}: {e}"),
        }
    }
}
