//! Prints what facteur-mail makes of each file given (debugging aid):
//! `cargo run -p facteur-mail --example dump -- FILE...`
fn main() {
    for path in std::env::args().skip(1) {
        let Ok(raw) = std::fs::read(&path) else {
            eprintln!("{path}: unreadable");
            continue;
        };
        let m = facteur_mail::parse_message(&raw);
        let kinds: Vec<_> = m
            .defects
            .iter()
            .map(|d| format!("{:?}({})", d.kind, d.detail))
            .collect();
        let limit = if std::env::var_os("DUMP_FULL").is_some() {
            usize::MAX
        } else {
            160
        };
        let preview: String = m.body_text.chars().take(limit).collect();
        println!(
            "== {path}\n id={} subj={:?} date={:?} from={:?}\n atts={:?}\n defects={kinds:?}\n text={preview:?}",
            m.message_id,
            m.subject,
            m.date,
            m.from.as_ref().map(|f| f.display()),
            m.attachments.iter().map(|a| (&a.filename, &a.content_type, a.size)).collect::<Vec<_>>(),
        );
    }
}
