//! Line-based segmentation of a mail body.
//!
//! Written by hand rather than with a reply-parsing crate: the markers that matter
//! here are those of French mail clients (Orange, Outlook FR, Lotus Notes in
//! administrations, Thunderbird FR) and of French letter-writing conventions
//! ("Je vous prie d'agréer…"), which is the core value of this crate.
//!
//! Two passes over the lines:
//! 1. history: reply headers, forward markers, Outlook header blocks and `>` lines
//!    label everything that is not the writer's own text (Quoted / Forwarded);
//! 2. the writer's own lines: greeting at the top, signature markers, disclaimers,
//!    the closing formula and the contact block after it; the rest is NewText.
//!
//! Each line is folded once (bounded length) and then only prefix/suffix checks
//! run on it, which keeps the whole thing far above 10,000 mails/s on one core.

use facteur_core::{Segment, SegmentKind};

use crate::normalize::{fold_prefix, is_blank, split_lines, trim_ws};

/// Lines longer than this (in chars) are only examined on their first part: no
/// marker, greeting or closing is that long.
const FOLD_LIMIT: usize = 320;

/// A body split into labelled segments, in order.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Cleaned {
    pub segments: Vec<Segment>,
}

impl Cleaned {
    /// The citizen's own words, what feeds the classifier: the NewText segments
    /// joined by a newline. A pure forward (no new text at all) falls back to the
    /// body of the forwarded message, without its marker and header lines, because
    /// then the forwarded content *is* the request.
    pub fn new_text(&self) -> String {
        let own = self.text_of(SegmentKind::NewText);
        if !is_blank(&own) {
            return own;
        }
        self.forwarded_body()
    }

    /// All segments of one kind, joined by a newline, in order.
    pub fn text_of(&self, kind: SegmentKind) -> String {
        let mut out = String::new();
        for s in self.segments.iter().filter(|s| s.kind == kind) {
            if !out.is_empty() {
                out.push('\n');
            }
            out.push_str(&s.text);
        }
        out
    }

    /// Whether any segment of that kind exists.
    pub fn has(&self, kind: SegmentKind) -> bool {
        self.segments.iter().any(|s| s.kind == kind)
    }

    /// The text of the Forwarded segments minus forward markers and the header
    /// lines (De/From/Date/Objet/À…) that open each forwarded message.
    pub fn forwarded_body(&self) -> String {
        let mut out = String::new();
        for s in self
            .segments
            .iter()
            .filter(|s| s.kind == SegmentKind::Forwarded)
        {
            let mut in_header = true;
            for line in split_lines(&s.text) {
                let f = fold_prefix(line, FOLD_LIMIT);
                let f = f.trim_start_matches(['*', ' ']);
                if is_blank(line) {
                    if !in_header && !out.is_empty() {
                        out.push('\n');
                    }
                    continue;
                }
                if forward_marker(f)
                    || original_message_marker(f)
                    || separator_line(f)
                    || outlook_from_line(f)
                {
                    in_header = true;
                    continue;
                }
                if in_header && header_key_line(f) {
                    continue;
                }
                in_header = false;
                if !out.is_empty() && !out.ends_with('\n') {
                    out.push('\n');
                }
                out.push_str(line);
            }
        }
        out.trim().to_string()
    }

    /// The segments before the first Quoted/Forwarded one: what this writer wrote,
    /// including greeting, closing and signature.
    pub fn own_segments(&self) -> impl Iterator<Item = &Segment> {
        self.segments
            .iter()
            .take_while(|s| !matches!(s.kind, SegmentKind::Quoted | SegmentKind::Forwarded))
    }
}

struct Line<'a> {
    raw: &'a str,
    /// Folded, bounded; empty for blank lines.
    f: String,
    blank: bool,
}

/// Split a body into labelled segments, in order, losing nothing.
///
/// Guarantee: a segment's `text` is a run of consecutive input lines (as cut by
/// [`crate::split_lines`]: terminators removed, content unchanged) joined by `\n`,
/// without leading or trailing blank lines. So taking the non-blank lines of every
/// segment in order gives back exactly the non-blank lines of the body; blank lines
/// between two segments are the only thing dropped.
pub fn clean(body: &str) -> Cleaned {
    let lines: Vec<Line> = split_lines(body)
        .into_iter()
        .map(|raw| {
            let blank = is_blank(raw);
            let f = if blank {
                String::new()
            } else {
                fold_prefix(raw, FOLD_LIMIT)
            };
            Line { raw, f, blank }
        })
        .collect();
    let mut labels: Vec<Option<SegmentKind>> = vec![None; lines.len()];
    label_history(&lines, &mut labels);
    label_own(&lines, &mut labels);
    Cleaned {
        segments: group(&lines, &labels),
    }
}

// ---------------------------------------------------------------------------
// Pass 1: history
// ---------------------------------------------------------------------------

const REPLY_ENDS: &[&str] = &[
    "a ecrit :",
    "a ecrit:",
    "a ecrit",
    "wrote:",
    "wrote :",
    "schrieb:",
    "escribio:",
    "ha scritto:",
    "escreveu:",
    "heeft geschreven:",
];

fn ends_like_reply(f: &str) -> bool {
    REPLY_ENDS.iter().any(|e| f.ends_with(e))
}

/// "Le 3 mars 2024 à 10:12, X a écrit :" / "On Mon, … X wrote:" on one line. A date
/// or an address is required so that "mon conseiller m'a écrit :" stays text.
fn reply_header_line(f: &str) -> bool {
    f.len() < 400 && ends_like_reply(f) && f.bytes().any(|b| b.is_ascii_digit() || b == b'@')
}

/// Start of a reply header wrapped over two or three lines: "Le lun. 4 mars 2024 à
/// 09:00, Jean Dupont <" / "jean@x.fr> a écrit :".
fn reply_header_start(f: &str) -> bool {
    (f.starts_with("le ") || f.starts_with("on ") || f.starts_with("am ") || f.starts_with("el "))
        && f.len() < 250
        && f.bytes().any(|b| b.is_ascii_digit())
}

fn strip_decor(f: &str) -> &str {
    f.trim_matches(|c: char| c == '-' || c == '_' || c == ' ' || c == '*' || c == '=')
}

fn original_message_marker(f: &str) -> bool {
    let t = strip_decor(f).trim_end_matches(':').trim_end();
    matches!(
        t,
        "message d'origine"
            | "original message"
            | "message original"
            | "mensaje original"
            | "ursprungliche nachricht"
            | "messaggio originale"
    ) && (f.starts_with('-') || f.starts_with('_') || t.len() == f.len())
}

fn forward_marker(f: &str) -> bool {
    let t = strip_decor(f).trim_end_matches(':').trim_end();
    let decorated = f.starts_with('-') || f.starts_with('=');
    match t {
        "forwarded message"
        | "message transfere"
        | "mail transfere"
        | "courriel transfere"
        | "message reexpedie"
        | "weitergeleitete nachricht"
        | "mensaje reenviado" => decorated || t.len() == f.len(),
        "debut du message reexpedie" | "begin forwarded message" => true,
        _ => decorated && (t.starts_with("transfere par ") || t.starts_with("forwarded by ")),
    }
}

const FROM_KEYS: &[&str] = &[
    "de :",
    "de:",
    "from:",
    "from :",
    "von:",
    "expediteur :",
    "expediteur:",
];
const SENT_KEYS: &[&str] = &[
    "envoye :",
    "envoye:",
    "envoye le :",
    "envoye le:",
    "sent:",
    "sent :",
    "date :",
    "date:",
    "gesendet:",
];
const SUBJ_KEYS: &[&str] = &[
    "objet :",
    "objet:",
    "subject:",
    "subject :",
    "sujet :",
    "sujet:",
    "betreff:",
];
const OTHER_HEADER_KEYS: &[&str] = &[
    "a :",
    "a:",
    "to:",
    "to :",
    "cc :",
    "cc:",
    "cci :",
    "bcc:",
    "pour :",
    "reply-to:",
    "repondre a :",
    "importance :",
    "an:",
];

fn starts_with_any(f: &str, keys: &[&str]) -> bool {
    keys.iter().any(|k| f.starts_with(k))
}

fn outlook_from_line(f: &str) -> bool {
    starts_with_any(f, FROM_KEYS)
}

fn header_key_line(f: &str) -> bool {
    starts_with_any(f, FROM_KEYS)
        || starts_with_any(f, SENT_KEYS)
        || starts_with_any(f, SUBJ_KEYS)
        || starts_with_any(f, OTHER_HEADER_KEYS)
}

fn header_f(l: &Line) -> String {
    if l.f.contains('*') {
        l.f.replace('*', "").trim().to_string()
    } else {
        l.f.clone()
    }
}

/// An Outlook-style header block starting at `i`: "De : … / Envoyé : … / À : … /
/// Objet : …" (or on a single line after HTML conversion). Returns the index after
/// the subject line and whether the subject says it is a forward (TR:/Fwd:).
fn outlook_block(lines: &[Line], i: usize) -> Option<(usize, bool)> {
    let f0 = header_f(&lines[i]);
    if !outlook_from_line(&f0) {
        return None;
    }
    // Single line: "De : X Envoyé : lundi … À : … Objet : TR: …"
    let has_sent_inline = [" envoye :", " envoye le :", " sent:", " date :", " date:"]
        .iter()
        .any(|k| f0.contains(k));
    if has_sent_inline {
        if let Some(p) = SUBJ_KEYS
            .iter()
            .filter_map(|k| f0.find(&format!(" {k}")).map(|p| p + k.len() + 1))
            .next()
        {
            let subj = f0.get(p..).unwrap_or("").trim();
            return Some((i + 1, subject_is_forward(subj)));
        }
    }
    // Without a date line (Orange webmail), an address on the From line is needed
    // to tell a quoted header from a letter that starts "De : … / Objet : …".
    let mut seen_sent = f0.contains('@');
    let mut seen = 0;
    let mut j = i + 1;
    while j < lines.len() && seen < 8 {
        if lines[j].blank {
            j += 1;
            continue;
        }
        seen += 1;
        let f = header_f(&lines[j]);
        if starts_with_any(&f, SENT_KEYS) {
            seen_sent = true;
        } else if let Some(k) = SUBJ_KEYS.iter().find(|k| f.starts_with(*k)) {
            if !seen_sent {
                return None;
            }
            let subj = f.get(k.len()..).unwrap_or("").trim();
            return Some((j + 1, subject_is_forward(subj)));
        } else if !starts_with_any(&f, OTHER_HEADER_KEYS) && !starts_indented(lines[j].raw) {
            // Address lists wrap onto indented continuation lines; anything else
            // means this was not a header block.
            if !f.contains('@') && !f.ends_with(';') && !f.ends_with(',') {
                return None;
            }
        }
        j += 1;
    }
    None
}

fn subject_is_forward(subj: &str) -> bool {
    ["tr:", "tr :", "fw:", "fw :", "fwd:", "fwd :", "transfert"]
        .iter()
        .any(|p| subj.starts_with(p))
}

/// An address-list continuation line: indented by any kind of whitespace (a tab,
/// spaces, NBSP after HTML conversion).
fn starts_indented(raw: &str) -> bool {
    raw.starts_with(|c: char| c.is_whitespace() || crate::normalize::is_invisible(c))
}

fn separator_line(f: &str) -> bool {
    f.len() >= 5 && f.chars().all(|c| c == '_' || c == '-' || c == '=')
}

enum Header {
    /// Reply header spanning `start..end`.
    Reply(usize),
    /// Everything from here on is old history.
    History,
    /// Forward marker or forward header block spanning `start..end`.
    Forward(usize),
}

fn header_at(lines: &[Line], i: usize, nothing_before: bool) -> Option<Header> {
    let f = lines[i].f.as_str();
    if reply_header_line(f) {
        return Some(Header::Reply(i + 1));
    }
    if reply_header_start(f) {
        // Look at the next two non-blank lines for the wrapped end.
        let mut k = i + 1;
        let mut seen = 0;
        while k < lines.len() && seen < 2 {
            if !lines[k].blank {
                seen += 1;
                if ends_like_reply(&lines[k].f) {
                    return Some(Header::Reply(k + 1));
                }
            }
            k += 1;
        }
    }
    // Orange webmail: "Message du 12/02/24 10:12" above its De/A/Objet block.
    if f.starts_with("message du ")
        && f.len() < 60
        && f.bytes().any(|b| b.is_ascii_digit())
        && next_non_blank(lines, i + 1).is_some_and(|k| outlook_from_line(&header_f(&lines[k])))
    {
        return Some(Header::History);
    }
    if original_message_marker(f) {
        // Outlook forwards look like replies; with nothing written above, or a
        // "TR:" subject in the block that follows, it is a forward.
        let fwd_subject = next_non_blank(lines, i + 1)
            .and_then(|k| outlook_block(lines, k))
            .is_some_and(|(_, fwd)| fwd);
        return Some(if nothing_before || fwd_subject {
            Header::Forward(i + 1)
        } else {
            Header::History
        });
    }
    if forward_marker(f) {
        return Some(Header::Forward(i + 1));
    }
    if let Some((end, fwd)) = outlook_block(lines, i) {
        return Some(if fwd || nothing_before {
            Header::Forward(end)
        } else {
            Header::History
        });
    }
    None
}

fn label_history(lines: &[Line], labels: &mut [Option<SegmentKind>]) {
    let n = lines.len();
    let mut i = 0;
    let mut own_seen = false;
    while i < n {
        if lines[i].blank {
            i += 1;
            continue;
        }
        match header_at(lines, i, !own_seen) {
            Some(Header::Reply(end)) => {
                relabel_separator_before(lines, labels, i, SegmentKind::Quoted);
                fill(labels, i, end, SegmentKind::Quoted);
                let next = next_non_blank(lines, end);
                if next.is_some_and(|k| trim_ws(lines[k].raw).starts_with('>')) {
                    // Interleaved / bottom-posted reply: only the `>` lines are history.
                    i = end;
                    continue;
                }
                fill(labels, i, n, SegmentKind::Quoted);
                return;
            }
            Some(Header::History) => {
                relabel_separator_before(lines, labels, i, SegmentKind::Quoted);
                fill(labels, i, n, SegmentKind::Quoted);
                return;
            }
            Some(Header::Forward(end)) => {
                relabel_separator_before(lines, labels, i, SegmentKind::Forwarded);
                i = label_forward(lines, labels, i, end);
                if i >= n {
                    return;
                }
                // label_forward stopped on a history header inside the forward.
                fill(labels, i, n, SegmentKind::Quoted);
                return;
            }
            None => {
                if trim_ws(lines[i].raw).starts_with('>') {
                    labels[i] = Some(SegmentKind::Quoted);
                } else {
                    own_seen = true;
                }
                i += 1;
            }
        }
    }
}

/// Label a forwarded message from `start` (its marker) on, skipping its header
/// lines, until a reply/history header of the *forwarded* message's own history.
/// Returns where it stopped (`lines.len()` when it reached the end).
fn label_forward(
    lines: &[Line],
    labels: &mut [Option<SegmentKind>],
    start: usize,
    header_end: usize,
) -> usize {
    let n = lines.len();
    let (mut start, mut header_end) = (start, header_end);
    // A loop, not recursion on each nested forward marker: a hostile body of
    // 100,000 marker lines overflowed the stack (an abort, the message lost).
    'forward: loop {
        fill(labels, start, header_end.min(n), SegmentKind::Forwarded);
        let mut i = header_end;
        // The forwarded message's own header lines.
        while i < n && (lines[i].blank || header_key_line(&header_f(&lines[i]))) {
            labels[i] = Some(SegmentKind::Forwarded);
            i += 1;
        }
        while i < n {
            if !lines[i].blank {
                let f = lines[i].f.as_str();
                if forward_marker(f) {
                    (start, header_end) = (i, i + 1);
                    continue 'forward;
                }
                let wrapped_reply = reply_header_start(f)
                    && (i + 1..(i + 3).min(n)).any(|k| ends_like_reply(&lines[k].f));
                if reply_header_line(f) || wrapped_reply || original_message_marker(f) {
                    return i;
                }
                if let Some((end, _)) = outlook_block(lines, i) {
                    if end > i {
                        return i;
                    }
                }
            }
            labels[i] = Some(SegmentKind::Forwarded);
            i += 1;
        }
        return n;
    }
}

fn relabel_separator_before(
    lines: &[Line],
    labels: &mut [Option<SegmentKind>],
    i: usize,
    kind: SegmentKind,
) {
    if let Some(p) = (0..i).rev().find(|&p| !lines[p].blank) {
        if labels[p].is_none() && separator_line(&lines[p].f) {
            labels[p] = Some(kind);
        }
    }
}

fn fill(labels: &mut [Option<SegmentKind>], from: usize, to: usize, kind: SegmentKind) {
    let to = to.min(labels.len());
    for l in labels.iter_mut().take(to).skip(from) {
        *l = Some(kind);
    }
}

fn next_non_blank(lines: &[Line], from: usize) -> Option<usize> {
    (from..lines.len()).find(|&k| !lines[k].blank)
}

// ---------------------------------------------------------------------------
// Pass 2: the writer's own lines
// ---------------------------------------------------------------------------

const GREETING_WORDS: &[&str] = &[
    "bonjour",
    "bonsoir",
    "salut",
    "hello",
    "hi",
    "dear",
    "cher",
    "chere",
    "chers",
    "cheres",
    "madame",
    "monsieur",
    "mesdames",
    "messieurs",
    "mademoiselle",
    "good morning",
    "good afternoon",
    "guten tag",
    "hola",
    "buongiorno",
    "bom dia",
    "a l'attention de",
    "a l'attention du",
];

/// Words that may follow a greeting word without making the line content.
const GREETING_TAIL: &[&str] = &[
    "madame",
    "monsieur",
    "mesdames",
    "messieurs",
    "mademoiselle",
    "mme",
    "m",
    "mr",
    "mlle",
    "le",
    "la",
    "les",
    "cher",
    "chere",
    "a",
    "tous",
    "toutes",
    "et",
    "ou",
    "directeur",
    "directrice",
    "inspecteur",
    "inspectrice",
    "controleur",
    "controleuse",
    "service",
    "equipe",
    "sir",
    "madam",
    "or",
    "all",
    "team",
    "there",
    "/",
];

/// Letter headings that may precede the greeting ("Objet : demande de délai").
fn letter_heading(f: &str) -> bool {
    [
        "objet",
        "ref",
        "concerne",
        "n° fiscal",
        "numero fiscal",
        "subject",
    ]
    .iter()
    .any(|p| f.starts_with(p))
}

fn greeting_line(raw: &str, f: &str) -> bool {
    if f.chars().count() > 70 {
        return false;
    }
    let Some(w) = GREETING_WORDS.iter().find(|w| {
        f.starts_with(*w)
            && f[w.len()..]
                .chars()
                .next()
                .is_none_or(|c| !c.is_alphanumeric())
    }) else {
        return false;
    };
    // The rest must be titles or names, not a sentence: "Bonjour, j'ai une
    // question" is new text.
    let raw_words: Vec<&str> = raw
        .split(|c: char| {
            c.is_whitespace()
                || crate::normalize::is_invisible(c)
                || matches!(c, ',' | '.' | '!' | ':' | ';')
        })
        .filter(|s| !s.is_empty())
        .collect();
    let skip = w.split(' ').count();
    let rest = raw_words.get(skip..).unwrap_or(&[]);
    if rest.len() > 5 {
        return false;
    }
    rest.iter().all(|word| {
        let wf = crate::normalize::fold(word);
        GREETING_TAIL.contains(&wf.as_str())
            || word.chars().next().is_some_and(|c| c.is_uppercase())
                && word
                    .chars()
                    .all(|c| c.is_alphabetic() || c == '-' || c == '\'')
    })
}

/// Closing words that close a mail on their own.
const STRONG_CLOSINGS: &[&str] = &[
    "cordialement",
    "bien cordialement",
    "tres cordialement",
    "cordiales salutations",
    "bien a vous",
    "bien a toi",
    "salutations",
    "salutations distinguees",
    "sinceres salutations",
    "mes salutations",
    "meilleures salutations",
    "respectueusement",
    "bien respectueusement",
    "tres respectueusement",
    "avec mes remerciements",
    "avec tous mes remerciements",
    "best regards",
    "kind regards",
    "warm regards",
    "regards",
    "sincerely",
    "yours sincerely",
    "yours faithfully",
    "best",
    "cheers",
    "mit freundlichen grussen",
    "freundliche grusse",
    "atentamente",
    "saludos",
    "cordiali saluti",
    "distinti saluti",
    "atenciosamente",
    "cumprimentos",
    "met vriendelijke groet",
];

/// Formal French formulas: long, but unmistakable.
const FORMULAS: &[&str] = &[
    "je vous prie d'agreer",
    "je vous prie de bien vouloir agreer",
    "veuillez agreer",
    "je vous prie de croire",
    "je vous prie de recevoir",
    "veuillez recevoir",
    "recevez, madame",
    "recevez madame",
    "recevez, monsieur",
    "recevez monsieur",
    "recevez mes",
    "recevez, mes",
    "avec mes salutations",
    "avec mes sinceres",
    "dans l'attente de votre reponse",
    "dans l'attente d'une reponse",
    "dans l'attente de vous lire",
    "en vous remerciant",
    "vous remerciant par avance",
    "vous remerciant d'avance",
    "je vous remercie par avance",
    "je vous remercie d'avance",
    "je reste a votre disposition",
    "je reste a votre entiere disposition",
    "i look forward to",
    "looking forward to",
];

/// Thanks and wishes: a closing only when short and at the end.
const WEAK_CLOSINGS: &[&str] = &[
    "merci d'avance",
    "merci par avance",
    "merci pour votre",
    "merci de votre",
    "merci beaucoup",
    "merci a vous",
    "merci",
    "bonne journee",
    "bonne soiree",
    "belle journee",
    "bonne fin de journee",
    "thanks",
    "thank you",
    "many thanks",
];

fn word_prefix(f: &str, p: &str) -> bool {
    f.starts_with(p)
        && f[p.len()..]
            .chars()
            .next()
            .is_none_or(|c| !c.is_alphanumeric())
}

#[derive(PartialEq, Clone, Copy)]
enum Closing {
    Strong,
    Weak,
}

/// Single words that also start ordinary sentences ("Best time to call…"): a
/// closing only alone on their line or followed by a comma.
const BARE_ONLY: &[&str] = &[
    "best",
    "regards",
    "cheers",
    "salutations",
    "sincerely",
    "saludos",
];

fn closing_line(f: &str) -> Option<Closing> {
    let len = f.chars().count();
    if len <= 60
        && STRONG_CLOSINGS.iter().any(|p| {
            word_prefix(f, p) && {
                let rest = &f[p.len()..];
                !BARE_ONLY.contains(p)
                    || rest.starts_with(',')
                    || rest
                        .trim_matches(|c: char| c.is_ascii_punctuation() || c == ' ')
                        .is_empty()
            }
        })
    {
        return Some(Closing::Strong);
    }
    if len <= 300 && FORMULAS.iter().any(|p| f.starts_with(p)) {
        return Some(Closing::Strong);
    }
    if len <= 60 && WEAK_CLOSINGS.iter().any(|p| word_prefix(f, p)) {
        return Some(Closing::Weak);
    }
    None
}

/// Lines that start a mail client's or device's signature (folded prefixes).
const SIGNATURE_MARKERS: &[&str] = &[
    "envoye de mon ",
    "envoye depuis mon ",
    "envoye a partir de ",
    "envoye avec ",
    "envoye de ma tablette",
    "sent from my ",
    "sent from outlook",
    "sent with ",
    "get outlook for",
    "obtenir outlook pour",
    "telecharger outlook pour",
    "provenance : courrier pour windows",
    "provenance : mail pour windows",
    "provenance :",
    "von meinem iphone gesendet",
    "enviado desde mi",
];

fn signature_marker(raw: &str, f: &str) -> bool {
    // "-- " (RFC 3676) however indented or padded with NBSP: only the dashes count.
    trim_ws(raw) == "--"
        || f == "--"
        || f == "---"
        || SIGNATURE_MARKERS.iter().any(|p| f.starts_with(p))
}

const DISCLAIMER_STARTS: &[&str] = &[
    "ce message et toutes les pieces jointes",
    "ce message et les pieces jointes",
    "ce message et ses pieces jointes",
    "ce message et tous les fichiers",
    "ce courriel et",
    "ce courriel est confidentiel",
    "ce courrier electronique et",
    "ce message electronique et",
    "ce message est confidentiel",
    "ce message est strictement confidentiel",
    "ce message (y compris",
    "les informations contenues dans ce",
    "l'integrite de ce message",
    "avertissement :",
    "avertissement de confidentialite",
    "confidentialite :",
    "this e-mail and any",
    "this email and any",
    "this message and any",
    "this message is confidential",
    "this e-mail is confidential",
    "this email is confidential",
    "the information contained in this",
    "the information in this e-mail",
    "if you are not the intended recipient",
    "disclaimer",
    "pensez a l'environnement",
    "merci de penser a l'environnement",
    "avant d'imprimer",
    "please consider the environment",
];

const DISCLAIMER_ANYWHERE: &[&str] = &[
    "si vous n'etes pas le destinataire",
    "si vous avez recu ce message par erreur",
    "if you are not the intended recipient",
    "if you have received this e-mail in error",
    "if you have received this email in error",
];

fn disclaimer_line(f: &str) -> bool {
    DISCLAIMER_STARTS.iter().any(|p| f.starts_with(p))
        || DISCLAIMER_ANYWHERE.iter().any(|p| f.contains(p))
}

/// A short line that fits a contact block: name, phone, address, title.
/// A sentence ("Je vous envoie le document.") is not: it must carry a digit, an
/// address or a link, or be mostly capitalised words, or be very short.
fn contact_like(raw: &str, f: &str) -> bool {
    let raw = trim_ws(raw);
    if raw.chars().count() > 90 || f.ends_with('?') || f.ends_with('.') && !f.ends_with("..") {
        return false;
    }
    if f.starts_with("p.s") || f.starts_with("ps ") || f.starts_with("ps:") {
        return false;
    }
    let words: Vec<&str> = raw.split_whitespace().collect();
    if words.len() > 10 {
        return false;
    }
    if words.len() <= 3
        || f.bytes().any(|b| b.is_ascii_digit() || b == b'@')
        || f.contains("www.")
        || f.contains("http")
    {
        return true;
    }
    let capitalised = words
        .iter()
        .filter(|w| w.chars().next().is_some_and(|c| !c.is_lowercase()))
        .count();
    capitalised * 2 >= words.len()
}

fn label_own(lines: &[Line], labels: &mut [Option<SegmentKind>]) {
    let own: Vec<usize> = (0..lines.len())
        .filter(|&i| !lines[i].blank && labels[i].is_none())
        .collect();
    if own.is_empty() {
        return;
    }
    // Greeting: among the first three own lines (a letter may start with "Objet : …").
    let mut body_from = 0;
    for (k, &i) in own.iter().enumerate().take(3) {
        let f = lines[i].f.as_str();
        if greeting_line(lines[i].raw, f) {
            labels[i] = Some(SegmentKind::Greeting);
            body_from = k + 1;
        } else if body_from > 0 || !letter_heading(f) {
            break;
        }
    }
    let rest = &own[body_from..];

    // Disclaimers: the matching line and the rest of its paragraph.
    for (k, &i) in rest.iter().enumerate() {
        if labels[i].is_none() && disclaimer_line(&lines[i].f) {
            labels[i] = Some(SegmentKind::Disclaimer);
            let mut prev = i;
            for &j in &rest[k + 1..] {
                if j != prev + 1 || labels[j].is_some() {
                    break;
                }
                labels[j] = Some(SegmentKind::Disclaimer);
                prev = j;
            }
        }
    }

    // Signature marker: from it to the end of the own text.
    let sig_at = rest
        .iter()
        .position(|&i| labels[i].is_none() && signature_marker(lines[i].raw, &lines[i].f));
    if let Some(p) = sig_at {
        for &i in &rest[p..] {
            if labels[i].is_none() {
                labels[i] = Some(SegmentKind::Signature);
            }
        }
    }
    let body = &rest[..sig_at.unwrap_or(rest.len())];
    let free: Vec<usize> = body
        .iter()
        .copied()
        .filter(|&i| labels[i].is_none())
        .collect();

    // Closing: the last strong closing, or a weak one followed only by a contact
    // block; then back over the closing lines just before it.
    //
    // Each line is classified once and the two conditions on a weak closing (some
    // text before it, only a contact block after it) are read from precomputed
    // bounds: checking them per line by rescanning was quadratic, and 100 KB of
    // "merci" lines took 10 s.
    let closings: Vec<Option<Closing>> = free.iter().map(|&i| closing_line(&lines[i].f)).collect();
    // Index of the first line that is not a closing: a weak closing after it has
    // text before it.
    let first_text = closings.iter().position(Option::is_none);
    // Start of the longest run of contact-like lines that ends the body.
    let contact_tail = free
        .iter()
        .rposition(|&j| !contact_like(lines[j].raw, &lines[j].f))
        .map_or(0, |p| p + 1);
    let mut last: Option<usize> = None;
    for (k, closing) in closings.iter().enumerate().rev() {
        match closing {
            Some(Closing::Strong) => {
                last = Some(k);
                break;
            }
            // Thanks opening the mail ("Merci pour votre réponse. Je…") are text.
            Some(Closing::Weak) if first_text.is_some_and(|t| t < k) => {
                let tail_ok = k + 1 >= contact_tail;
                if tail_ok && last.is_none() {
                    last = Some(k);
                }
            }
            _ => {}
        }
    }
    if let Some(l) = last {
        let mut c = l;
        while c > 0 && closings[c - 1].is_some() {
            c -= 1;
        }
        // A mail that is only thanks + "Cordialement": the thanks are its content.
        if c == 0 {
            while c < l && closings[c] == Some(Closing::Weak) {
                c += 1;
            }
        }
        for &i in &free[c..=l] {
            labels[i] = Some(SegmentKind::Closing);
        }
        for &j in &free[l + 1..] {
            if !contact_like(lines[j].raw, &lines[j].f) {
                break;
            }
            labels[j] = Some(SegmentKind::Signature);
        }
    }
    for &i in &own {
        if labels[i].is_none() {
            labels[i] = Some(SegmentKind::NewText);
        }
    }
}

// ---------------------------------------------------------------------------
// Grouping
// ---------------------------------------------------------------------------

fn group(lines: &[Line], labels: &[Option<SegmentKind>]) -> Vec<Segment> {
    let mut out: Vec<Segment> = Vec::new();
    let mut pending_blank = 0usize;
    let mut cur: Option<SegmentKind> = None;
    for (l, lab) in lines.iter().zip(labels) {
        if l.blank {
            pending_blank += 1;
            continue;
        }
        let kind = lab.unwrap_or(SegmentKind::NewText);
        match (cur, out.last_mut()) {
            (Some(k), Some(seg)) if k == kind => {
                for _ in 0..pending_blank {
                    seg.text.push('\n');
                }
                seg.text.push('\n');
                seg.text.push_str(l.raw);
            }
            _ => {
                out.push(Segment {
                    kind,
                    text: l.raw.to_string(),
                });
                cur = Some(kind);
            }
        }
        pending_blank = 0;
    }
    out
}

#[cfg(test)]
#[path = "segment_ws_tests.rs"]
mod ws_tests;

#[cfg(test)]
mod tests {
    use super::*;
    use SegmentKind::*;

    fn kinds(c: &Cleaned) -> Vec<SegmentKind> {
        c.segments.iter().map(|s| s.kind).collect()
    }

    fn seg(c: &Cleaned, k: SegmentKind) -> &str {
        c.segments
            .iter()
            .find(|s| s.kind == k)
            .map(|s| s.text.as_str())
            .unwrap_or("")
    }

    #[test]
    fn gmail_reply_with_quote_lines() {
        let body = "Bonjour,\n\nMerci pour votre réponse, mais je n'ai toujours pas reçu mon avis.\n\nCordialement,\nJean Dupont\n\nLe lun. 4 mars 2024 à 09:00, <sip.paris@dgfip.finances.gouv.fr> a écrit :\n> Madame, Monsieur,\n> Votre avis est disponible.\n";
        let c = clean(body);
        assert_eq!(
            kinds(&c),
            vec![Greeting, NewText, Closing, Signature, Quoted]
        );
        assert_eq!(
            c.new_text(),
            "Merci pour votre réponse, mais je n'ai toujours pas reçu mon avis."
        );
        assert!(seg(&c, Quoted).starts_with("Le lun. 4 mars 2024"));
        assert!(seg(&c, Quoted).ends_with("> Votre avis est disponible."));
    }

    #[test]
    fn wrapped_reply_header() {
        let body = "Voici le document demandé.\n\nLe 3 mars 2024 à 10:12, Service des Impôts des Particuliers <\nsip@dgfip.finances.gouv.fr> a écrit :\n> Bonjour";
        let c = clean(body);
        assert_eq!(kinds(&c), vec![NewText, Quoted]);
        assert_eq!(c.new_text(), "Voici le document demandé.");
    }

    #[test]
    fn outlook_reply_block() {
        let body = "Bonjour Madame,\r\n\r\nJe vous joins mon justificatif de domicile.\r\n\r\nBien à vous\r\nClaire Petit\r\n\r\n________________________________\r\nDe : SIP Lyon <sip.lyon@dgfip.finances.gouv.fr>\r\nEnvoyé : lundi 4 mars 2024 10:12\r\nÀ : Claire Petit <claire@example.fr>\r\nObjet : RE: votre demande\r\n\r\nMadame,\r\nMerci de nous transmettre un justificatif.\r\n";
        let c = clean(body);
        assert_eq!(
            kinds(&c),
            vec![Greeting, NewText, Closing, Signature, Quoted]
        );
        assert!(seg(&c, Quoted).starts_with("_____"));
        assert!(seg(&c, Quoted).contains("Merci de nous transmettre"));
        assert_eq!(c.new_text(), "Je vous joins mon justificatif de domicile.");
    }

    #[test]
    fn thunderbird_reply() {
        let body = "Bonsoir,\nJe confirme mon adresse.\nLe 04/03/2024 à 10:12, Jean Dupont a écrit :\nBonjour, pouvez-vous confirmer votre adresse ?";
        let c = clean(body);
        assert_eq!(kinds(&c), vec![Greeting, NewText, Quoted]);
    }

    #[test]
    fn bottom_posted_reply_keeps_new_text() {
        let body = "Le 04/03/2024 à 10:12, SIP a écrit :\n> Quel est votre numéro fiscal ?\n\nJe vous l'ai déjà envoyé hier.";
        let c = clean(body);
        assert_eq!(kinds(&c), vec![Quoted, NewText]);
        assert_eq!(c.new_text(), "Je vous l'ai déjà envoyé hier.");
    }

    #[test]
    fn forwarded_chain() {
        let body = "Pour information, voir ci-dessous.\n\n---------- Forwarded message ---------\nDe : Jean Dupont <jean@example.fr>\nDate: lun. 4 mars 2024 à 09:00\nSubject: Demande de délai\nTo: <contact@example.fr>\n\nBonjour, je demande un délai de paiement.\n\n----- Transféré par Marie Martin/DGFIP le 04/03/2024 10:12 -----\nAutre texte transféré";
        let c = clean(body);
        assert_eq!(kinds(&c), vec![NewText, Forwarded]);
        assert_eq!(c.new_text(), "Pour information, voir ci-dessous.");
        assert!(seg(&c, Forwarded).ends_with("Autre texte transféré"));
    }

    #[test]
    fn pure_forward_falls_back_to_forwarded_body() {
        let body = "-------- Message transféré --------\nSujet : Demande\nDe : Jean <jean@example.fr>\nDate : 04/03/2024\n\nBonjour, je demande un délai de paiement.\nMerci\n\nLe 01/03/2024 à 08:00, X a écrit :\n> ancien";
        let c = clean(body);
        assert_eq!(kinds(&c), vec![Forwarded, Quoted]);
        assert_eq!(
            c.new_text(),
            "Bonjour, je demande un délai de paiement.\nMerci"
        );
        // Outlook forward with nothing above: also a forward.
        let body = "De : Jean Dupont\nEnvoyé : lundi 4 mars 2024\nÀ : SIP\nObjet : TR: délai\n\nJe demande un délai.";
        let c = clean(body);
        assert_eq!(kinds(&c), vec![Forwarded]);
        assert_eq!(c.new_text(), "Je demande un délai.");
    }

    #[test]
    fn iphone_and_mobile_signatures() {
        let c = clean("Bonjour\nMon avis n'est pas arrivé.\n\nEnvoyé de mon iPhone");
        assert_eq!(kinds(&c), vec![Greeting, NewText, Signature]);
        let c = clean("Mon avis n'est pas arrivé.\nEnvoyé depuis mon mobile Orange");
        assert_eq!(kinds(&c), vec![NewText, Signature]);
        let c = clean("Question.\n\nProvenance : Courrier pour Windows");
        assert_eq!(kinds(&c), vec![NewText, Signature]);
    }

    #[test]
    fn contact_block_signature() {
        let body = "Madame, Monsieur,\n\nJe souhaite modifier mon taux de prélèvement.\n\nJe vous prie d'agréer, Madame, Monsieur, l'expression de mes salutations distinguées.\n\nPierre Martin\n12 rue de la Paix\n75002 Paris\nTél. : 06 12 34 56 78";
        let c = clean(body);
        assert_eq!(kinds(&c), vec![Greeting, NewText, Closing, Signature]);
        assert_eq!(
            seg(&c, Signature),
            "Pierre Martin\n12 rue de la Paix\n75002 Paris\nTél. : 06 12 34 56 78"
        );
    }

    #[test]
    fn sig_separator() {
        let c = clean("Ma question ?\n-- \nJean Dupont\nhttp://example.fr");
        assert_eq!(kinds(&c), vec![NewText, Signature]);
    }

    #[test]
    fn disclaimer() {
        let body = "Bonjour,\nVoici ma demande.\nCordialement\nJ. Durand\n\nCe message et toutes les pièces jointes sont confidentiels et établis à l'intention exclusive de ses destinataires.\nToute utilisation non conforme est interdite.";
        let c = clean(body);
        assert_eq!(
            kinds(&c),
            vec![Greeting, NewText, Closing, Signature, Disclaimer]
        );
        assert!(seg(&c, Disclaimer).ends_with("interdite."));
        let c = clean("Question.\nRegards\n\nThis e-mail and any attachments are confidential.");
        assert_eq!(kinds(&c), vec![NewText, Closing, Disclaimer]);
    }

    #[test]
    fn english_reply() {
        let body = "Hello,\n\nI have not received my tax notice.\n\nBest regards,\nJohn Smith\nSent from my iPhone\n\nOn Mon, Mar 4, 2024 at 9:00 AM Tax Office <tax@example.fr> wrote:\n> Dear Sir,\n> Please find attached.\n\n-----Original Message-----\nolder";
        let c = clean(body);
        assert_eq!(
            kinds(&c),
            vec![Greeting, NewText, Closing, Signature, Quoted]
        );
        assert_eq!(c.new_text(), "I have not received my tax notice.");
        let c = clean(
            "Thanks.\n\n-----Original Message-----\nFrom: a\nSent: b\nTo: c\nSubject: d\n\nold",
        );
        // A bare "Thanks." is the whole message: text, not a closing.
        assert_eq!(kinds(&c), vec![NewText, Quoted]);
    }

    #[test]
    fn greeting_with_content_is_new_text() {
        let c = clean("Bonjour, j'ai une question sur ma taxe foncière.");
        assert_eq!(kinds(&c), vec![NewText]);
        let c = clean("Bonjour à tous,\nMadame, Monsieur,\nMa question.");
        assert_eq!(kinds(&c), vec![Greeting, NewText]);
        let c = clean("Monsieur Dupont m'a dit de vous écrire.");
        assert_eq!(kinds(&c), vec![NewText]);
    }

    #[test]
    fn weak_closing_in_the_middle_stays_text() {
        let body = "Merci d'avance.\nPar ailleurs, pouvez-vous me dire quand je serai remboursé ? Je attends depuis trois mois et cela devient urgent pour moi.\nCordialement";
        let c = clean(body);
        assert_eq!(kinds(&c), vec![NewText, Closing]);
        let c = clean("Ma question.\nMerci d'avance pour votre réponse.\nCordialement,\nJean");
        assert_eq!(kinds(&c), vec![NewText, Closing, Signature]);
        assert_eq!(
            seg(&c, Closing),
            "Merci d'avance pour votre réponse.\nCordialement,"
        );
    }

    #[test]
    fn thanks_opening_the_mail_are_text() {
        let c = clean("Merci pour votre réponse.\nJe vous envoie le document demandé.");
        assert_eq!(kinds(&c), vec![NewText]);
        let c = clean("Merci beaucoup !");
        assert_eq!(kinds(&c), vec![NewText]);
        let c = clean("Merci pour votre aide.\nCordialement");
        assert_eq!(kinds(&c), vec![NewText, Closing]);
        let c = clean("Best time to call me is 9am.\nJohn");
        assert_eq!(kinds(&c), vec![NewText]);
        let c = clean("Ma question.\nBest,\nJohn");
        assert_eq!(kinds(&c), vec![NewText, Closing, Signature]);
    }

    #[test]
    fn outlook_original_message_forward() {
        let body = "-----Message d'origine-----\nDe : Jean\nEnvoyé : lundi\nÀ : SIP\nObjet : délai\n\nJe demande un délai.";
        let c = clean(body);
        assert_eq!(kinds(&c), vec![Forwarded]);
        assert_eq!(c.new_text(), "Je demande un délai.");
        let body = "Voir plus bas.\n-----Message d'origine-----\nDe : Jean\nEnvoyé : lundi\nObjet : TR: délai\n\nJe demande un délai.";
        assert_eq!(kinds(&clean(body)), vec![NewText, Forwarded]);
        let body = "Merci, c'est noté.\n-----Message d'origine-----\nDe : SIP\nEnvoyé : lundi\nObjet : RE: délai\n\nAccordé.";
        assert_eq!(kinds(&clean(body)), vec![NewText, Quoted]);
    }

    #[test]
    fn orange_webmail_header() {
        let body = "Bonjour,\nCi-dessous ma question.\nMessage du 12/02/24 10:12\nDe : \"SIP Paris\" <sip@dgfip.fr>\nA : moi@orange.fr\nObjet : Votre demande\n\nMadame, nous instruisons.";
        let c = clean(body);
        assert_eq!(kinds(&c), vec![Greeting, NewText, Quoted]);
        assert!(seg(&c, Quoted).starts_with("Message du 12/02/24"));
        // A letter heading without addresses nor dates is the writer's text.
        let c = clean("Voici ma lettre.\nDe : Jean Dupont\nÀ : SIP Paris\nObjet : demande de délai\nJe demande un délai.");
        assert_eq!(kinds(&c), vec![NewText]);
    }

    #[test]
    fn greeting_and_closing_variants() {
        for g in [
            "Bonjour",
            "Bonjour Madame",
            "Madame, Monsieur,",
            "Hello",
            "Bonsoir,",
            "Chère Madame Durand,",
            "Dear Sir or Madam,",
        ] {
            let c = clean(&format!("{g}\nJe n'ai pas reçu mon avis d'impôt."));
            assert_eq!(kinds(&c), vec![Greeting, NewText], "{g}");
        }
        for cl in [
            "Cordialement",
            "Bien cordialement,",
            "Bien à vous",
            "Salutations distinguées.",
            "Je vous prie d'agréer, Madame, Monsieur, l'expression de mes salutations distinguées.",
            "Merci d'avance",
            "Best regards,",
            "Sincères salutations",
        ] {
            let c = clean(&format!("Je n'ai pas reçu mon avis d'impôt.\n{cl}"));
            assert_eq!(kinds(&c), vec![NewText, Closing], "{cl}");
        }
    }

    #[test]
    fn mention_of_writing_is_not_a_header() {
        let c = clean("Mon conseiller m'a écrit :\nil faut payer.");
        assert_eq!(kinds(&c), vec![NewText]);
    }

    #[test]
    fn robust_inputs() {
        assert!(clean("").segments.is_empty());
        assert!(clean("\n\r\n \u{a0}\t\n").segments.is_empty());
        let c = clean("Bonjour\u{a0}!\r\nJe n\u{2019}ai rien reçu\r\nCordialement\u{202f},");
        assert_eq!(kinds(&c), vec![Greeting, NewText, Closing]);
        let long = "a".repeat(100_000);
        let c = clean(&long);
        assert_eq!(c.new_text().len(), 100_000);
    }
}
