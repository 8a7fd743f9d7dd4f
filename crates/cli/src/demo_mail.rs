//! The demo mailbox: a tax office's mail. About 80 % are tax requests of the 30 demo
//! types, in plausible proportions (the PAS rate, the tax notice and bank details far
//! more often than a non-resident's question), taken from the demo's held-apart mails
//! (`answers/demo/eval.jsonl`), never from the examples the demo model trains on
//! (`examples.jsonl`); the other 20 % are out of scope: real service-public questions
//! outside taxation and real labour-law queries. Each is wrapped as an e-mail the way
//! citizens write them — greetings, closings, phone signatures, quoted history, the
//! odd fictitious fiscal number — and marked as demo data.
//!
//! Deterministic for a given seed, so benchmarks and tests see the same mailbox.

use anyhow::{Context, Result};
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

/// SplitMix64: deterministic and dependency-free; demo data needs no better randomness.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed ^ 0x9E37_79B9_7F4A_7C15)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next_u64() % n as u64) as usize
        }
    }
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next_u64() % 100 < percent
    }
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// One question to wrap, with its label when the source has one (demo examples).
#[derive(Debug, Clone)]
pub struct Question {
    pub text: String,
    pub label: Option<String>,
    pub source: &'static str,
}

/// Where the shared data lives: `$FACTEUR_SHARED_DATA`, else `../shared/data` or
/// `./shared/data` from the working directory.
pub fn shared_data_dir() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("FACTEUR_SHARED_DATA") {
        return Some(PathBuf::from(p));
    }
    ["../shared/data", "shared/data", "../../shared/data"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.join("service-public-fiches-2020").is_dir())
}

fn read_jsonl_field(
    path: &Path,
    field: &str,
    label: Option<&str>,
    source: &'static str,
    filter: impl Fn(&serde_json::Value) -> bool,
) -> Result<Vec<Question>> {
    let f = std::fs::File::open(path)
        .with_context(|| tr!("impossible d'ouvrir {}", "cannot open {}", path.display()))?;
    let mut out = Vec::new();
    for (i, line) in std::io::BufReader::new(f).lines().enumerate() {
        let line = line.with_context(|| {
            tr!(
                "{}:{} : ligne illisible",
                "{}:{}: unreadable line",
                path.display(),
                i + 1
            )
        })?;
        if line.trim().is_empty() {
            continue;
        }
        let v: serde_json::Value = serde_json::from_str(&line).with_context(|| {
            tr!(
                "{}:{} : JSON invalide",
                "{}:{}: invalid JSON",
                path.display(),
                i + 1
            )
        })?;
        if !filter(&v) {
            continue;
        }
        if let Some(t) = v.get(field).and_then(|t| t.as_str()) {
            let label = label.and_then(|l| v.get(l)).and_then(|l| l.as_str());
            out.push(Question {
                text: t.trim().to_string(),
                label: label.map(str::to_string),
                source,
            });
        }
    }
    Ok(out)
}

/// Collect the questions: the demo's held-apart tax mails (labelled, not the demo
/// model's training examples), then out-of-scope questions: official questions outside
/// taxation and real labour-law queries.
pub fn load_questions(shared: &Path, answers_dir: &Path) -> Result<Vec<Question>> {
    let mut qs = Vec::new();
    let mailbox = answers_dir.join("demo").join("eval.jsonl");
    if mailbox.is_file() {
        qs.extend(read_jsonl_field(
            &mailbox,
            "text",
            Some("label"),
            "demo-mailbox",
            |_| true,
        )?);
    }
    let qr = shared
        .join("service-public-fiches-2020")
        .join("questions_reponses.jsonl");
    qs.extend(read_jsonl_field(
        &qr,
        "question",
        None,
        "service-public",
        |v| {
            !v.get("is_fiscalite")
                .and_then(|b| b.as_bool())
                .unwrap_or(false)
        },
    )?);
    let cdtn = shared.join("bench").join("cdtn_topics_train.jsonl");
    if cdtn.is_file() {
        qs.extend(read_jsonl_field(
            &cdtn,
            "text",
            None,
            "cdtn-queries",
            |_| true,
        )?);
    }
    anyhow::ensure!(
        !qs.is_empty(),
        tr!(
            "aucune question trouvée sous {}",
            "no question found under {}",
            shared.display()
        )
    );
    Ok(qs)
}

const FIRST: &[&str] = &[
    "Marie",
    "Jean",
    "Nathalie",
    "Philippe",
    "Isabelle",
    "Michel",
    "Sophie",
    "Alain",
    "Catherine",
    "Nicolas",
    "Sylvie",
    "Patrick",
    "Christine",
    "Laurent",
    "Valérie",
    "Stéphane",
    "Sandrine",
    "Éric",
    "Céline",
    "Thierry",
    "Aurélie",
    "Julien",
    "Hélène",
    "François",
    "Léa",
    "Mohamed",
    "Fatima",
    "Karim",
    "Chloé",
    "Hugo",
];
const LAST: &[&str] = &[
    "Martin",
    "Bernard",
    "Dubois",
    "Thomas",
    "Robert",
    "Richard",
    "Petit",
    "Durand",
    "Leroy",
    "Moreau",
    "Simon",
    "Laurent",
    "Lefèvre",
    "Michel",
    "Garcia",
    "David",
    "Bertrand",
    "Roux",
    "Vincent",
    "Fournier",
    "Morel",
    "Girard",
    "André",
    "Mercier",
    "Dupont",
    "Lambert",
    "Bonnet",
    "François",
    "Martinez",
    "Benali",
];
const FEMALE: &[&str] = &[
    "Marie",
    "Nathalie",
    "Isabelle",
    "Sophie",
    "Catherine",
    "Sylvie",
    "Christine",
    "Valérie",
    "Sandrine",
    "Céline",
    "Aurélie",
    "Hélène",
    "Léa",
    "Fatima",
    "Chloé",
];
const GREETINGS: &[&str] = &[
    "Bonjour,",
    "Madame, Monsieur,",
    "Bonjour Madame, Monsieur,",
    "Bonjour,\n",
    "Bonsoir,",
    "Madame, Monsieur,\n",
    "",
];
const CLOSINGS: &[&str] = &[
    "Cordialement,",
    "Bien cordialement,",
    "Bien à vous,",
    "Merci d'avance pour votre réponse.\nCordialement,",
    "Je vous prie d'agréer, Madame, Monsieur, l'expression de mes salutations distinguées.",
    "Dans l'attente de votre réponse, je vous remercie.",
    "Merci",
];
const INTROS: &[&str] = &[
    "",
    "Je me permets de vous écrire car j'ai une question. ",
    "Je n'arrive pas à trouver l'information sur le site. ",
    "Suite à mon appel de la semaine dernière, ",
    "Je vous contacte au sujet de ma situation. ",
];
const DEVICES: &[&str] = &[
    "Envoyé de mon iPhone",
    "Envoyé depuis mon mobile Orange",
    "Envoyé de mon appareil Android",
    "Provenance : Courrier pour Windows",
];

/// Make a subject the way citizens do: the first words of the question, or a
/// generic one.
fn subject_for(q: &str, rng: &mut Rng) -> String {
    if rng.chance(20) {
        return rng
            .pick(&[
                "Question",
                "Demande de renseignement",
                "Impôts",
                "Ma situation",
                "Urgent",
                "(sans objet)",
            ])
            .to_string();
    }
    let words: Vec<&str> = q.split_whitespace().take(8).collect();
    let mut s = words.join(" ");
    if q.split_whitespace().count() > 8 {
        s.push('…');
    }
    s
}

/// A fictitious but well-formed fiscal number (13 digits, first 0–3): the detector must
/// catch it; it belongs to nobody.
fn fiscal_number(rng: &mut Rng) -> String {
    let mut s = (rng.below(4)).to_string();
    for _ in 0..12 {
        s.push(char::from(b'0' + rng.below(10) as u8));
    }
    s
}

fn qp_escape_header(s: &str) -> String {
    if s.is_ascii() {
        return s.to_string();
    }
    // RFC 2047 B-encoding keeps accented subjects and names intact.
    format!("=?UTF-8?B?{}?=", base64_encode(s.as_bytes()))
}

fn base64_encode(bytes: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// One demo e-mail, RFC 5322, UTF-8 8bit body.
pub struct DemoMail {
    pub label: Option<String>,
    pub bytes: Vec<u8>,
}

/// Wrap question number `n`. `to` is the mailbox address; `day` counts days back from
/// 2026-11-27 so the queue has a realistic age spread.
pub fn wrap(n: usize, q: &Question, to: &str, rng: &mut Rng) -> DemoMail {
    let first = *rng.pick(FIRST);
    let last = *rng.pick(LAST);
    let female = FEMALE.contains(&first);
    let email_user = format!(
        "{}.{}{}",
        fold(first),
        fold(last),
        if rng.chance(30) {
            (rng.below(90) + 10).to_string()
        } else {
            String::new()
        }
    );
    let domain = rng.pick(&["example.test", "exemple.test", "courriel.test"]);
    let from_addr = format!("{email_user}@{domain}");
    let mut body = String::new();
    let greeting = *rng.pick(GREETINGS);
    if !greeting.is_empty() {
        body.push_str(greeting);
        body.push_str("\n\n");
    }
    if rng.chance(10) {
        let e = if female { "e" } else { "" };
        body.push_str(&format!("Je soussigné{e} {first} {last}, "));
    } else {
        let intro = *rng.pick::<&str>(INTROS);
        body.push_str(intro);
    }
    body.push_str(&q.text);
    if !q.text.ends_with(['?', '.', '!']) {
        body.push_str(if rng.chance(60) { " ?" } else { "." });
    }
    body.push('\n');
    if rng.chance(15) {
        body.push_str(&format!("\nMon numéro fiscal : {}\n", fiscal_number(rng)));
    }
    if rng.chance(10) {
        body.push_str("\nPourriez-vous me répondre rapidement, la date limite approche.\n");
    }
    body.push('\n');
    let closing = *rng.pick::<&str>(CLOSINGS);
    body.push_str(closing);
    body.push('\n');
    if rng.chance(80) {
        body.push_str(&format!("{first} {last}\n"));
    }
    if rng.chance(25) {
        body.push_str(&format!("\n{}\n", rng.pick(DEVICES)));
    } else if rng.chance(15) {
        body.push_str(&format!(
            "{} rue des Lilas\n{} Ville-Exemple\n",
            rng.below(80) + 1,
            75000 + rng.below(900)
        ));
    }
    let day = rng.below(84);
    let (y, m, d) = date_minus_days(2026, 11, 27, day as i64);
    let hour = 7 + rng.below(13);
    let minute = rng.below(60);
    if rng.chance(20) {
        body.push_str(&format!(
            "\nLe {d:02}/{m:02}/{y} à {hour:02}:{minute:02}, Service des impôts des particuliers <{to}> a écrit :\n> Bonjour,\n> Nous avons bien reçu votre demande et y répondrons dans les meilleurs délais.\n> Cordialement,\n> Le service des impôts des particuliers\n"
        ));
    }
    let message_id = format!(
        "demo-{n:06}-{:08x}@demo.facteur.invalid",
        rng.next_u64() as u32
    );
    let subject = subject_for(&q.text, rng);
    let civ_name = format!("{first} {last}");
    let mut headers = String::new();
    headers.push_str(&format!(
        "From: {} <{from_addr}>\r\n",
        qp_escape_header(&civ_name)
    ));
    headers.push_str(&format!("To: {to}\r\n"));
    headers.push_str(&format!("Subject: {}\r\n", qp_escape_header(&subject)));
    headers.push_str(&format!(
        "Date: {}, {d:02} {} {y} {hour:02}:{minute:02}:00 +0100\r\n",
        weekday(y, m, d),
        month_name(m)
    ));
    headers.push_str(&format!("Message-ID: <{message_id}>\r\n"));
    headers.push_str("MIME-Version: 1.0\r\n");
    headers.push_str("Content-Type: text/plain; charset=utf-8\r\n");
    headers.push_str("Content-Transfer-Encoding: 8bit\r\n");
    headers.push_str("X-Facteur-Demo: donnees de demonstration (questions publiques reelles, identites fictives)\r\n");
    headers.push_str(&format!("X-Facteur-Demo-Source: {}\r\n", q.source));
    if let Some(l) = &q.label {
        headers.push_str(&format!("X-Facteur-Demo-Label: {l}\r\n"));
    }
    let mut bytes = headers.into_bytes();
    bytes.extend_from_slice(b"\r\n");
    bytes.extend_from_slice(body.replace('\n', "\r\n").as_bytes());
    DemoMail {
        label: q.label.clone(),
        bytes,
    }
}

fn fold(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            'é' | 'è' | 'ê' | 'ë' | 'É' => 'e',
            'à' | 'â' => 'a',
            'ç' => 'c',
            'î' | 'ï' => 'i',
            'ô' => 'o',
            'û' | 'ù' => 'u',
            c => c,
        })
        .filter(|c| c.is_ascii_alphanumeric())
        .collect::<String>()
        .to_lowercase()
}

fn days_in_month(y: i32, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

fn date_minus_days(mut y: i32, mut m: u32, mut d: u32, mut back: i64) -> (i32, u32, u32) {
    while back > 0 {
        if d > 1 {
            d -= 1;
        } else {
            if m > 1 {
                m -= 1;
            } else {
                m = 12;
                y -= 1;
            }
            d = days_in_month(y, m);
        }
        back -= 1;
    }
    (y, m, d)
}

fn month_name(m: u32) -> &'static str {
    [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ][(m as usize).saturating_sub(1).min(11)]
}

/// Zeller-style weekday for the Date header.
fn weekday(y: i32, m: u32, d: u32) -> &'static str {
    let t = [0, 3, 2, 5, 0, 3, 5, 1, 4, 6, 2, 4];
    let y = if m < 3 { y - 1 } else { y };
    let w = (y + y / 4 - y / 100 + y / 400 + t[(m - 1) as usize] + d as i32).rem_euclid(7);
    ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"][w as usize]
}

/// Append one message to an mbox (mboxrd: lines starting with `From `, after any
/// number of `>`, get one more `>`), with LF line ends.
pub fn write_mbox_message(out: &mut dyn Write, bytes: &[u8]) -> std::io::Result<()> {
    out.write_all(b"From demo@facteur.invalid Fri Nov 27 10:00:00 2026\n")?;
    for line in bytes.split(|&b| b == b'\n') {
        let l = line.strip_suffix(b"\r").unwrap_or(line);
        let mut probe = l;
        while let Some(rest) = probe.strip_prefix(b">") {
            probe = rest;
        }
        if probe.starts_with(b"From ") {
            out.write_all(b">")?;
        }
        out.write_all(l)?;
        out.write_all(b"\n")?;
    }
    out.write_all(b"\n")
}

/// Relative frequency of each demo type in a tax office's mailbox (an estimate from
/// what such offices report receiving most: withholding rate, notices, bank details,
/// deadlines and payments first; rare situations last). A type missing here weighs 1.
const TYPE_WEIGHTS: &[(&str, usize)] = &[
    ("pas-taux", 12),
    ("avis-imposition", 10),
    ("coordonnees-bancaires", 8),
    ("date-limite-declaration", 7),
    ("declaration-rectificative", 7),
    ("moyens-paiement", 6),
    ("delais-paiement", 6),
    ("changement-adresse", 6),
    ("taxe-fonciere", 6),
    ("reclamation", 5),
    ("taxe-habitation-secondaire", 5),
    ("mensualisation-impots-locaux", 5),
    ("changement-situation-familiale", 4),
    ("premiere-declaration", 4),
    ("pas-taux-individualise", 3),
    ("taxe-habitation", 3),
    ("taxe-habitation-demenagement", 3),
    ("asdir-justificatif", 3),
    ("penalite-retard-paiement", 3),
    ("remise-gracieuse", 3),
    ("retard-declaration", 3),
    ("emploi-domicile", 3),
    ("garde-enfants", 3),
    ("frais-reels", 3),
    ("dons", 2),
    ("pension-alimentaire", 2),
    ("enfant-majeur-rattachement", 2),
    ("revenus-fonciers", 2),
    ("deces", 2),
    ("non-residents", 1),
];

/// Share of the mailbox that is tax mail of a demo type, in percent.
pub const IN_SCOPE_PERCENT: u64 = 80;

/// Write `count` demo mails as an mbox (mboxrd: body lines starting with "From " are
/// escaped): `IN_SCOPE_PERCENT` % labelled tax mail, types drawn by `TYPE_WEIGHTS`,
/// the rest out of scope. Returns how many of them carry a demo label.
pub fn write_mbox(
    out: &mut dyn Write,
    questions: &[Question],
    count: usize,
    seed: u64,
    to: &str,
) -> Result<usize> {
    let mut rng = Rng::new(seed);
    let mut by_type: std::collections::BTreeMap<&str, Vec<&Question>> = Default::default();
    let mut outside: Vec<&Question> = Vec::new();
    for q in questions {
        match &q.label {
            Some(l) => by_type.entry(l.as_str()).or_default().push(q),
            None => outside.push(q),
        }
    }
    let weight = |t: &str| {
        TYPE_WEIGHTS
            .iter()
            .find(|(n, _)| *n == t)
            .map_or(1, |(_, w)| *w)
    };
    let types: Vec<(&str, usize)> = by_type.keys().map(|&t| (t, weight(t))).collect();
    let total: usize = types.iter().map(|t| t.1).sum();
    let mut labelled = 0;
    for n in 0..count {
        let in_scope = !types.is_empty() && (outside.is_empty() || rng.chance(IN_SCOPE_PERCENT));
        let q = if in_scope {
            let mut r = rng.below(total);
            let mut pick = types[0].0;
            for &(t, w) in &types {
                if r < w {
                    pick = t;
                    break;
                }
                r -= w;
            }
            let pool = &by_type[pick];
            pool[rng.below(pool.len())]
        } else if outside.is_empty() {
            rng.pick(questions)
        } else {
            outside[rng.below(outside.len())]
        };
        let mail = wrap(n, q, to, &mut rng);
        labelled += usize::from(mail.label.is_some());
        write_mbox_message(out, &mail.bytes)?;
    }
    Ok(labelled)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_weekdays_are_right() {
        assert_eq!(date_minus_days(2026, 11, 27, 0), (2026, 11, 27));
        assert_eq!(date_minus_days(2026, 3, 1, 1), (2026, 2, 28));
        assert_eq!(date_minus_days(2024, 3, 1, 1), (2024, 2, 29));
        assert_eq!(date_minus_days(2026, 1, 1, 1), (2025, 12, 31));
        assert_eq!(weekday(2026, 11, 29), "Sun");
        assert_eq!(weekday(2024, 2, 29), "Thu");
    }

    #[test]
    fn base64_matches_the_rfc_vectors() {
        assert_eq!(base64_encode(b"f"), "Zg==");
        assert_eq!(base64_encode(b"fo"), "Zm8=");
        assert_eq!(base64_encode(b"foobar"), "Zm9vYmFy");
    }

    #[test]
    fn mbox_is_deterministic_and_escapes_from_lines() {
        let qs = vec![Question {
            text: "From my point of view, quand dois-je déclarer mes revenus".into(),
            label: Some("date-declaration".into()),
            source: "demo-examples",
        }];
        let mut a = Vec::new();
        let mut b = Vec::new();
        assert_eq!(
            write_mbox(&mut a, &qs, 5, 7, "sip@example.test").unwrap(),
            5
        );
        write_mbox(&mut b, &qs, 5, 7, "sip@example.test").unwrap();
        assert_eq!(a, b);
        let text = String::from_utf8(a).unwrap();
        assert_eq!(text.matches("\nFrom demo@facteur.invalid").count() + 1, 5);
        let mut one = Vec::new();
        write_mbox_message(&mut one, b"Subject: x\r\n\r\nFrom here\r\n>From there\r\n").unwrap();
        let one = String::from_utf8(one).unwrap();
        assert!(one.contains("\n>From here\n"), "{one}");
        assert!(one.contains("\n>>From there\n"), "{one}");
    }

    /// About 80 % of the mailbox is labelled tax mail in weighted proportions, the rest
    /// out of scope, and no labelled text is one the demo model trains on.
    #[test]
    fn mailbox_is_mostly_tax_mail_never_the_training_examples() {
        let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../answers/demo");
        let mut qs = read_jsonl_field(
            &demo.join("eval.jsonl"),
            "text",
            Some("label"),
            "demo-mailbox",
            |_| true,
        )
        .unwrap();
        let training: std::collections::HashSet<String> =
            read_jsonl_field(&demo.join("examples.jsonl"), "text", None, "x", |_| true)
                .unwrap()
                .into_iter()
                .map(|q| q.text)
                .collect();
        assert!(qs.iter().all(|q| !training.contains(&q.text)));
        qs.extend((0..50).map(|i| Question {
            text: format!("Question hors champ numéro {i} sur le permis de conduire"),
            label: None,
            source: "service-public",
        }));
        let mut out = Vec::new();
        let n = 2000;
        let labelled = write_mbox(&mut out, &qs, n, 20261129, "sip@example.test").unwrap();
        let share = labelled as f64 / n as f64;
        assert!((0.76..0.84).contains(&share), "{share}");
        let text = String::from_utf8(out).unwrap();
        let count = |t: &str| {
            text.matches(&format!("X-Facteur-Demo-Label: {t}\n"))
                .count()
        };
        // Weighted: the PAS rate far more often than a non-resident's question.
        assert!(count("pas-taux") > 4 * count("non-residents").max(1));
        assert!(count("non-residents") > 0);
    }
}
