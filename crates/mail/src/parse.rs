//! From raw bytes to [`ParsedMail`]: mail-parser does the MIME work, we map its
//! result to Facteur's types and add the defects it keeps to itself.

use std::sync::OnceLock;

use facteur_core::{AttachmentMeta, Defect, DefectKind, MailAddress, ParsedMail};
use mail_parser::{Address, HeaderValue, Message, MessageParser, MimeHeaders, PartType};
use sha2::{Digest, Sha256};

use crate::{defects, html, uuencode};

/// Building a `MessageParser` allocates its header table: do it once per process.
fn parser() -> &'static MessageParser {
    static PARSER: OnceLock<MessageParser> = OnceLock::new();
    PARSER.get_or_init(MessageParser::default)
}

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The size above which a message is read from its header only, with an
/// `Oversized` defect, whatever its source. It is the IMAP connector's default
/// limit, so a file import and `facteur triage` treat a huge message as IMAP sync
/// does. Why a limit at all: parsing holds the decoded parts in memory, about 8×
/// the input for a large base64 body (a 100 MB message took 834 MB), so one
/// 1 GB attachment would need several GB and could bring the worker down.
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 25 * 1024 * 1024;

/// The header block of a raw message: everything up to the first empty line (LF
/// or CRLF), or the first 256 KiB when no empty line comes before.
pub fn header_block(raw: &[u8]) -> &[u8] {
    const MAX: usize = 256 * 1024;
    let scan = &raw[..raw.len().min(MAX)];
    let mut i = 0;
    while let Some(off) = scan[i..].iter().position(|&b| b == b'\n') {
        let nl = i + off;
        match scan.get(nl + 1) {
            Some(b'\n') => return &raw[..=nl],
            Some(b'\r') if scan.get(nl + 2) == Some(&b'\n') => return &raw[..=nl],
            _ => i = nl + 1,
        }
    }
    scan
}

/// [`parse_message`], except that a message above `max` bytes is read from its
/// header only (subject, sender, Message-ID: enough to list, thread and route
/// it) with an `Oversized` defect; its size and content hash are the whole
/// message's.
pub fn parse_message_capped(raw: &[u8], max: usize) -> ParsedMail {
    if raw.len() <= max {
        return parse_message(raw);
    }
    let mut mail = parse_message(header_block(raw));
    mail.defects.push(Defect::new(
        DefectKind::Oversized,
        format!(
            "{} bytes exceeds the {max}-byte limit: only the header was read",
            raw.len()
        ),
    ));
    mail.raw_size = raw.len();
    mail.content_hash = sha256_hex(raw);
    mail
}

/// The domain of the stand-in id [`parse_message`] gives a message without
/// Message-ID (`.invalid` is reserved by RFC 2606: no real id ends with it).
const PLACEHOLDER_ID_DOMAIN: &str = "facteur.invalid";

/// Whether `id` is the stand-in [`parse_message`] gives a message without
/// Message-ID: not an id the correspondent's mail client knows, so a reply must
/// not claim to answer it (In-Reply-To, References).
pub fn is_placeholder_message_id(id: &str) -> bool {
    id.trim_end_matches('>')
        .rsplit_once('@')
        .is_some_and(|(_, domain)| domain.eq_ignore_ascii_case(PLACEHOLDER_ID_DOMAIN))
}

/// Never panics, never fails: hostile bytes give a ParsedMail with defects.
///
/// The message id is the idempotency key of ingest, so a message without one gets a
/// stable id derived from its content hash (`<hash prefix>@facteur.invalid`).
pub fn parse_message(raw: &[u8]) -> ParsedMail {
    let content_hash = sha256_hex(raw);
    // mail-parser has internal consistency checks (`debug_assert!`) that hostile
    // input can trip (found by fuzzing: nested multiparts with a broken boundary
    // stack). They only fire in debug builds, but "never panics" must hold in every
    // build, and any future bug in a dependency must cost one message, not the batch.
    let mut out = match std::panic::catch_unwind(|| parse_unguarded(raw)) {
        Ok(out) => out,
        Err(_) => {
            tracing::warn!(
                raw_size = raw.len(),
                "MIME parser panicked; falling back to raw text"
            );
            let mut out = ParsedMail {
                raw_size: raw.len(),
                body_text: String::from_utf8_lossy(raw).into_owned(),
                ..ParsedMail::default()
            };
            out.defects.push(Defect::new(
                DefectKind::Other,
                "MIME structure too damaged to parse: body is the raw message",
            ));
            out
        }
    };

    // Before the Message-ID fallback: an id made only of NULs is no id at all
    // (found by fuzzing).
    if strip_nul_chars(&mut out) {
        out.defects.push(Defect::new(
            DefectKind::InvalidCharsetBytes,
            "NUL characters in the text: removed",
        ));
    }
    if out.message_id.trim().is_empty() {
        out.message_id = format!(
            "{}@{PLACEHOLDER_ID_DOMAIN}",
            content_hash.get(..32).unwrap_or(&content_hash)
        );
        out.defects.push(Defect::new(
            DefectKind::MissingMessageId,
            "no Message-ID header: derived from the content hash",
        ));
    }
    out.content_hash = content_hash;
    dedup_defects(&mut out.defects);
    out
}

/// Removes U+0000 from every decoded text field; returns whether there was any.
/// Why: a NUL carries no meaning in mail text, and PostgreSQL refuses it in `text`
/// and `jsonb` values, so one such message would stay untriaged there (and break
/// `facteur migrate`). The raw bytes keep it: nothing of the original is lost.
fn strip_nul_chars(m: &mut ParsedMail) -> bool {
    fn strip(s: &mut String) -> bool {
        if s.contains('\0') {
            s.retain(|c| c != '\0');
            true
        } else {
            false
        }
    }
    fn strip_addr(a: &mut MailAddress) -> bool {
        let n = a.name.as_mut().is_some_and(strip);
        a.address.as_mut().is_some_and(strip) | n
    }
    let mut any = strip(&mut m.message_id) | strip(&mut m.subject) | strip(&mut m.body_text);
    any |= m.body_html.as_mut().is_some_and(strip);
    any |= m.date.as_mut().is_some_and(strip);
    for a in m
        .from
        .iter_mut()
        .chain(m.reply_to.iter_mut())
        .chain(m.to.iter_mut())
        .chain(m.cc.iter_mut())
    {
        any |= strip_addr(a);
    }
    for s in m.in_reply_to.iter_mut().chain(m.references.iter_mut()) {
        any |= strip(s);
    }
    for att in &mut m.attachments {
        any |= att.filename.as_mut().is_some_and(strip) | strip(&mut att.content_type);
    }
    any
}

/// Distinct defects listed for one message; the rest are counted in a last one.
/// A hostile message with 100,000 damaged parts would otherwise carry 100,000
/// defects into the JSON output and the database for no more insight.
const MAX_DEFECTS: usize = 100;

/// The same defect reported twice (for two parts with the same detail) says nothing
/// more to the agent and bloats JSON output. Linear (a hash set): comparing each
/// defect with all the kept ones took 17 s on 100,000 damaged parts.
fn dedup_defects(defects: &mut Vec<Defect>) {
    let mut seen: std::collections::HashSet<(DefectKind, String)> =
        std::collections::HashSet::with_capacity(defects.len().min(4 * MAX_DEFECTS));
    defects.retain(|d| seen.insert((d.kind, d.detail.clone())));
    if defects.len() > MAX_DEFECTS {
        let more = defects.len() - (MAX_DEFECTS - 1);
        defects.truncate(MAX_DEFECTS - 1);
        defects.push(Defect::new(
            DefectKind::Other,
            format!("{more} more defects not listed"),
        ));
    }
}

fn parse_unguarded(raw: &[u8]) -> ParsedMail {
    let mut out = ParsedMail {
        raw_size: raw.len(),
        ..ParsedMail::default()
    };
    let body_at = defects::scan_top_headers(raw, &mut out.defects);

    match parser().parse(raw) {
        Some(msg) => {
            fill_from_message(&msg, &mut out);
            // mail-parser read the body lines as (broken) headers: give the agent
            // the text rather than nothing.
            if let Some(at) = body_at.filter(|_| out.body_text.trim().is_empty()) {
                out.body_text =
                    String::from_utf8_lossy(raw.get(at..).unwrap_or_default()).into_owned();
            }
            // A multipart without a boundary cannot be split: the parser files the
            // whole body as one opaque part and the citizen's text disappears. Read
            // the body as text instead, so the agent and the classifier see it.
            let unsplittable = out
                .defects
                .iter()
                .any(|d| d.kind == DefectKind::NoBoundaryInMultipart);
            if unsplittable && out.body_text.trim().is_empty() {
                out.body_text = unsplit_body_text(raw);
            }
            drop_flat(msg);
        }
        None => {
            if !out
                .defects
                .iter()
                .any(|d| d.kind == DefectKind::NotAMessage)
            {
                out.defects.push(Defect::new(
                    DefectKind::NotAMessage,
                    "input has no header and no body the MIME parser recognises",
                ));
            }
            out.body_text = String::from_utf8_lossy(raw).into_owned();
        }
    }
    out
}

/// Drops a parsed message without recursion.
///
/// mail-parser nests each attached message/rfc822 inside its parent with no depth
/// limit, and the compiler's drop glue recurses once per level: 10,000 nested
/// messages overflowed a 2 MiB thread stack (an abort, the whole worker lost).
/// Detaching the nested messages onto a heap stack first makes every drop shallow.
fn drop_flat(msg: Message<'_>) {
    let mut pending = vec![msg];
    while let Some(mut m) = pending.pop() {
        for part in &mut m.parts {
            if matches!(part.body, PartType::Message(_)) {
                if let PartType::Message(nested) = std::mem::take(&mut part.body) {
                    pending.push(nested);
                }
            }
        }
    }
}

/// The text of a body that could not be split into parts: every line after the
/// headers except MIME scaffolding (boundary lines, part headers), as HTML-to-text
/// when it looks like HTML.
fn unsplit_body_text(raw: &[u8]) -> String {
    let start = [&b"\r\n\r\n"[..], b"\n\n"]
        .iter()
        .filter_map(|sep| {
            raw.windows(sep.len())
                .position(|w| w == *sep)
                .map(|i| i + sep.len())
        })
        .min()
        .unwrap_or(raw.len());
    let body = String::from_utf8_lossy(raw.get(start..).unwrap_or_default());
    let mut kept = String::new();
    for line in body.lines() {
        let t = line.trim_start();
        let lower = t.get(..t.len().min(26)).unwrap_or("").to_ascii_lowercase();
        if t.starts_with("--")
            || lower.starts_with("content-type:")
            || lower.starts_with("content-transfer-encoding:")
            || lower.starts_with("content-disposition:")
            || lower.starts_with("mime-version:")
        {
            continue;
        }
        kept.push_str(line);
        kept.push('\n');
    }
    let lower = kept.to_ascii_lowercase();
    if lower.contains("<html")
        || lower.contains("<body")
        || lower.contains("<p>")
        || lower.contains("<div")
    {
        html::html_to_text(&kept)
    } else {
        kept.trim().to_string()
    }
}

fn fill_from_message(msg: &Message<'_>, out: &mut ParsedMail) {
    out.message_id = msg
        .message_id()
        .map(|s| s.trim().trim_matches(['<', '>']).to_string())
        .unwrap_or_default();
    out.subject = msg.subject().map(clean_header_text).unwrap_or_default();
    out.from = msg.from().and_then(first_address);
    out.to = msg.to().map(all_addresses).unwrap_or_default();
    out.cc = msg.cc().map(all_addresses).unwrap_or_default();
    out.reply_to = msg.reply_to().and_then(first_address);
    let date = msg.date().filter(|d| d.is_valid());
    out.date = date.map(|d| d.to_rfc3339());
    out.date_ms = date.and_then(|d| d.to_timestamp().checked_mul(1000));
    out.in_reply_to = id_list(msg.in_reply_to());
    out.references = id_list(msg.references());

    defects::check_parsed_headers(msg, out);
    defects::scan_structure(msg, &mut out.defects);

    let mut text = body_text_of(msg);
    // A bare forward ("see attached message") is common from colleagues: the
    // question is in the attached message, so read it; a forward of a forward too,
    // down to the depth the structure scan inspects (a loop: nesting is unbounded).
    let mut current = msg;
    let mut depth = 0;
    while text.trim().is_empty() {
        let Some(nested) = current.attachments().find_map(|p| p.message()) else {
            break;
        };
        if depth == defects::MAX_DEPTH {
            out.defects.push(Defect::new(
                DefectKind::Other,
                format!(
                    "attached messages nested deeper than {}: text not searched further",
                    defects::MAX_DEPTH
                ),
            ));
            break;
        }
        text = body_text_of(nested);
        current = nested;
        depth += 1;
    }
    if let Some(h) = msg
        .html_body
        .iter()
        .find_map(|id| match msg.parts.get(*id as usize) {
            Some(mail_parser::MessagePart {
                body: PartType::Html(h),
                ..
            }) => Some(h),
            _ => None,
        })
    {
        out.body_html = Some(h.to_string());
    }

    // Old mailers inline uuencoded files in the text: lift them out as attachments so
    // neither the classifier nor the agent reads kilobytes of line noise.
    if text.contains("begin ") {
        let (clean, found) = uuencode::extract(&text);
        for block in found {
            if !block.complete {
                out.defects.push(Defect::new(
                    DefectKind::InvalidEncodedContent,
                    "uuencoded block in the text body is truncated or corrupt",
                ));
            }
            out.attachments.push(AttachmentMeta {
                filename: Some(block.filename),
                content_type: "application/octet-stream".to_string(),
                size: block.data.len(),
                sha256: sha256_hex(&block.data),
            });
        }
        text = clean;
    }
    out.body_text = text;
    out.automatic = crate::automatic::detect(msg, &out.subject, &out.body_text);

    for part in msg.attachments() {
        let content_type = part
            .content_type()
            .map(|ct| match &ct.c_subtype {
                Some(st) => format!("{}/{}", ct.c_type, st).to_ascii_lowercase(),
                None => ct.c_type.to_ascii_lowercase(),
            })
            .unwrap_or_else(|| {
                match part.body {
                    PartType::Message(_) => "message/rfc822",
                    PartType::Text(_) => "text/plain",
                    _ => "application/octet-stream",
                }
                .to_string()
            });
        let contents = attachment_contents(part);
        let (size, sha256) = (contents.len(), sha256_hex(&contents));
        out.attachments.push(AttachmentMeta {
            filename: part.attachment_name().map(clean_header_text),
            content_type,
            size,
            sha256,
        });
    }
}

/// The bytes of one attachment as an agent downloads them, and as its
/// `AttachmentMeta::sha256` is computed: uuencoded parts decoded, a nested
/// message as its raw text.
fn attachment_contents<'a>(part: &'a mail_parser::MessagePart<'_>) -> std::borrow::Cow<'a, [u8]> {
    use std::borrow::Cow;
    // Not `contents()` for nested messages: it indexes parts[0] unchecked.
    let contents: &[u8] = match &part.body {
        PartType::Message(m) => m
            .parts
            .first()
            .and_then(|p| {
                m.raw_message
                    .get(p.offset_header as usize..p.offset_end as usize)
            })
            .unwrap_or_default(),
        PartType::Multipart(_) => &[],
        PartType::Text(t) | PartType::Html(t) => t.as_bytes(),
        PartType::Binary(b) | PartType::InlineBinary(b) => b.as_ref(),
    };
    let is_uu = part
        .content_transfer_encoding()
        .is_some_and(uuencode::is_uuencode_cte);
    if is_uu {
        Cow::Owned(uuencode::decode_part(contents))
    } else {
        Cow::Borrowed(contents)
    }
}

/// The content of the attachment whose SHA-256 (hex, any case) is `sha256`, as
/// listed in [`ParsedMail::attachments`] by [`parse_message_capped`] with the
/// same `max`; `None` when no attachment has that hash.
///
/// Why here: stored mail is hostile input, and only this crate parses it with
/// the guards it needs (panics caught, nested messages dropped without
/// recursion, the size cap). The web app's download route used to re-parse the
/// raw mail with mail-parser directly and a mail of 100,000 nested messages
/// aborted the whole server on each download.
pub fn attachment_by_sha256(raw: &[u8], sha256: &str, max: usize) -> Option<Vec<u8>> {
    attachments_by_sha256(raw, &[sha256], max).pop().flatten()
}

/// [`attachment_by_sha256`] for several attachments at once, from one parse of
/// `raw` (triage reads every PDF and image of a message): the content of each
/// hash in `sha256s`, in the same order, `None` where none matches.
pub fn attachments_by_sha256(raw: &[u8], sha256s: &[&str], max: usize) -> Vec<Option<Vec<u8>>> {
    let none = || vec![None; sha256s.len()];
    if raw.len() > max || sha256s.iter().all(|s| s.len() != 64) {
        // Read from the header only at ingest: no attachment was listed.
        return none();
    }
    let want: Vec<String> = sha256s.iter().map(|s| s.to_ascii_lowercase()).collect();
    std::panic::catch_unwind(|| {
        let msg = parser().parse(raw)?;
        let mut found = none();
        for c in msg.attachments().map(attachment_contents) {
            keep_wanted(&mut found, &want, &c);
        }
        if found.iter().any(Option::is_none) {
            // Files an old mailer inlined uuencoded in the text.
            let text = body_text_of(&msg);
            if text.contains("begin ") {
                for b in uuencode::extract(&text).1 {
                    keep_wanted(&mut found, &want, &b.data);
                }
            }
        }
        drop_flat(msg);
        Some(found)
    })
    .unwrap_or_else(|_| {
        tracing::warn!(
            raw_size = raw.len(),
            "MIME parser panicked on an attachment download"
        );
        None
    })
    .unwrap_or_else(none)
}

/// Puts `data` in every still-empty slot of `found` whose wanted hash it has.
fn keep_wanted(found: &mut [Option<Vec<u8>>], want: &[String], data: &[u8]) {
    let hash = sha256_hex(data);
    for (slot, w) in found.iter_mut().zip(want) {
        if slot.is_none() && *w == hash {
            *slot = Some(data.to_vec());
        }
    }
}

/// Header text may carry control characters after decoding (hostile or broken
/// encoders); they break terminals and JSON consumers downstream.
/// Every inline text part in order; HTML parts only stand in when the sender gave no
/// plain alternative (mail-parser then lists them in `text_body`).
fn body_text_of(msg: &Message<'_>) -> String {
    let mut text = String::new();
    for id in &msg.text_body {
        let Some(part) = msg.parts.get(*id as usize) else {
            continue;
        };
        let piece: std::borrow::Cow<'_, str> = match &part.body {
            PartType::Text(t) if t.contains('\u{FFFD}') => match legacy_8bit_text(msg, part) {
                Some(fixed) => std::borrow::Cow::Owned(fixed),
                None => std::borrow::Cow::Borrowed(t.as_ref()),
            },
            PartType::Text(t) => std::borrow::Cow::Borrowed(t.as_ref()),
            PartType::Html(h) => std::borrow::Cow::Owned(html::html_to_text(h)),
            _ => continue,
        };
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str(&piece);
    }
    if text.trim().is_empty() {
        if let Some(h) = msg.html_bodies().find_map(|p| match &p.body {
            PartType::Html(h) => Some(h),
            _ => None,
        }) {
            text = html::html_to_text(h);
        }
    }
    text
}

/// Re-decodes a text part as windows-1252 when it was read as UTF-8 but is not.
///
/// French mail from old clients and scanners often carries raw Latin-1/cp1252 bytes
/// with no charset (or a wrong `utf-8`); mail-parser then yields U+FFFD for every
/// accented letter, which ruins classification. windows-1252 is a superset of the
/// printable Latin-1 range and decodes any byte, so it is the right fallback here.
fn legacy_8bit_text(msg: &Message<'_>, part: &mail_parser::MessagePart<'_>) -> Option<String> {
    let charset = part
        .content_type()
        .and_then(|ct| ct.attribute("charset"))
        .map(str::trim);
    let utf8_or_unknown = match charset {
        None => true,
        Some(cs) => {
            cs.eq_ignore_ascii_case("utf-8")
                || cs.eq_ignore_ascii_case("utf8")
                || !defects::charset_known(cs)
        }
    };
    if !utf8_or_unknown {
        return None;
    }
    let raw = msg
        .raw_message
        .get(part.offset_body as usize..part.offset_end as usize)?;
    let decoded = match part.encoding {
        mail_parser::Encoding::QuotedPrintable => {
            mail_parser::decoders::quoted_printable::quoted_printable_decode(raw)?
        }
        mail_parser::Encoding::Base64 => mail_parser::decoders::base64::base64_decode(raw)?,
        mail_parser::Encoding::None => raw.to_vec(),
    };
    // Genuinely valid UTF-8 (a literal U+FFFD in the text) stays as it was.
    if std::str::from_utf8(&decoded).is_ok() {
        return None;
    }
    let cp1252 = mail_parser::decoders::charsets::map::charset_decoder(b"windows-1252")?;
    let text = cp1252(&decoded);
    let text = text.trim_end_matches(['\r', '\n']);
    Some(format!("{text}\n"))
}

fn clean_header_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut last_space = false;
    for c in s.trim().chars() {
        if c.is_control() || c.is_whitespace() {
            if !last_space {
                out.push(' ');
            }
            last_space = true;
        } else {
            out.push(c);
            last_space = false;
        }
    }
    out
}

fn to_mail_address(a: &mail_parser::Addr<'_>) -> MailAddress {
    MailAddress {
        name: a.name().map(clean_header_text).filter(|s| !s.is_empty()),
        address: a
            .address()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty()),
    }
}

fn first_address(a: &Address<'_>) -> Option<MailAddress> {
    a.iter()
        .map(to_mail_address)
        .find(|m| m.name.is_some() || m.address.is_some())
}

fn all_addresses(a: &Address<'_>) -> Vec<MailAddress> {
    a.iter()
        .map(to_mail_address)
        .filter(|m| m.name.is_some() || m.address.is_some())
        .collect()
}

fn id_list(v: &HeaderValue<'_>) -> Vec<String> {
    let clean = |s: &str| s.trim().trim_matches(['<', '>']).to_string();
    match v {
        HeaderValue::Text(t) => vec![clean(t)],
        HeaderValue::TextList(l) => l.iter().map(|t| clean(t)).collect(),
        _ => Vec::new(),
    }
    .into_iter()
    .filter(|s| !s.is_empty())
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholder_ids_are_recognised() {
        assert!(is_placeholder_message_id(
            &parse_message(b"Subject: x\r\n\r\nbody").message_id
        ));
        assert!(is_placeholder_message_id(
            "0123456789abcdef0123456789abcdef@facteur.invalid"
        ));
        assert!(is_placeholder_message_id("x@FACTEUR.INVALID>"));
        assert!(!is_placeholder_message_id("demo-1@demo.facteur.invalid"));
        assert!(!is_placeholder_message_id("abc@impots.gouv.fr"));
        assert!(!is_placeholder_message_id("facteur.invalid"));
    }

    #[test]
    fn an_oversized_message_is_read_from_its_header_with_a_defect() {
        let body = "QUJD\r\n".repeat(2000);
        let raw = format!(
            "Subject: Grosse pièce jointe\r\nMessage-ID: <big@x.test>\r\nFrom: A <a@x.test>\r\n\r\n{body}"
        );
        let small = parse_message_capped(raw.as_bytes(), raw.len());
        assert!(small
            .defects
            .iter()
            .all(|d| d.kind != DefectKind::Oversized));
        let big = parse_message_capped(raw.as_bytes(), 1000);
        assert_eq!(big.subject, "Grosse pièce jointe");
        assert_eq!(big.message_id, "big@x.test");
        assert!(big.body_text.trim().is_empty(), "{:?}", big.body_text);
        assert_eq!(big.raw_size, raw.len());
        assert_eq!(big.content_hash, small.content_hash);
        assert!(big.defects.iter().any(|d| d.kind == DefectKind::Oversized));
    }

    #[test]
    fn header_block_stops_at_the_first_empty_line() {
        assert_eq!(
            header_block(b"A: 1\r\nB: 2\r\n\r\nbody"),
            b"A: 1\r\nB: 2\r\n"
        );
        assert_eq!(header_block(b"A: 1\n\nbody\n\n"), b"A: 1\n");
        assert_eq!(header_block(b"A: 1\nB: 2"), b"A: 1\nB: 2");
        assert_eq!(header_block(b""), b"");
        let long = vec![b'x'; 300 * 1024];
        assert_eq!(header_block(&long).len(), 256 * 1024);
    }

    /// Minimised from a cargo-fuzz crash: trips a `debug_assert!` inside mail-parser
    /// 0.11.9 ("Invalid part ID, could not find multipart").
    const NESTED_EMPTY_RFC822: &[u8] = b"Content-Type: multipart/mixed;\n boundary=\"=_b\"\n\n--=_b\nContent-Type: message/rfc822;\n\nContent-Type: message/rfc822;\n\n\n--=_b--";

    #[test]
    fn a_multipart_without_boundary_still_shows_its_text() {
        let raw = "From: a@example.org\r\nSubject: =?iso-8859-1?Q?pr=E9l=E8vement?=\r\nContent-Type: multipart/alternative; boundary=\r\nContent-Transfer-Encoding: base64\r\n\r\n--\r\nContent-Type: text/html; charset=unknown-charset\r\n\r\n<html><body><p>Bonjour, je n'arrive pas à modifier mon prélèvement à la source <script>alert(1)</script></p></body></html>\r\n--\r\n";
        let m = parse_message(raw.as_bytes());
        assert!(
            m.defects
                .iter()
                .any(|d| d.kind == DefectKind::NoBoundaryInMultipart),
            "{:?}",
            m.defects
        );
        assert!(
            m.body_text
                .contains("je n'arrive pas à modifier mon prélèvement"),
            "{:?}",
            m.body_text
        );
        assert!(!m.body_text.contains("alert"), "{:?}", m.body_text);
        assert!(!m.body_text.contains("Content-Type"), "{:?}", m.body_text);
    }

    #[test]
    fn a_message_id_of_nul_characters_gets_a_derived_id() {
        // Minimised from a cargo-fuzz crash (bench/fuzz.sh, session 3).
        let m = parse_message(b"Return-r: bar.org\nMessage-ID: \0\0\0\0<6.c3d\n\n\n");
        assert!(!m.message_id.is_empty());
        assert!(!m.message_id.contains('\0'));
        let m = parse_message(b"Message-ID: \0\0\0\0\n\nBonjour\n");
        assert!(
            m.message_id.ends_with("@facteur.invalid"),
            "{}",
            m.message_id
        );
        assert!(m
            .defects
            .iter()
            .any(|d| d.kind == DefectKind::MissingMessageId));
    }

    #[test]
    fn nul_characters_are_removed_from_the_text_and_reported() {
        let raw = b"From: Jean\0 <jean@example.org>\r\nSubject: Avis\0 d'imp\xc3\xb4t\r\nMessage-ID: <n\0ul@x>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nBonjour\0,\r\nmon avis\0\0 est faux.\r\n";
        let m = parse_message(raw);
        let json = serde_json::to_string(&m).expect("json");
        assert!(!json.contains("\\u0000"), "{json}");
        assert_eq!(m.subject, "Avis d'impôt");
        assert!(m.body_text.contains("Bonjour,"), "{:?}", m.body_text);
        assert!(m.body_text.contains("mon avis est faux."));
        assert!(
            m.defects.iter().any(|d| d.detail.contains("NUL")),
            "{:?}",
            m.defects
        );
        // Clean mail gets no such defect.
        let clean = parse_message(b"Subject: x\r\n\r\nBonjour\r\n");
        assert!(!clean.defects.iter().any(|d| d.detail.contains("NUL")));
    }

    #[test]
    fn dependency_panic_costs_one_message_not_the_process() {
        let m = parse_message(NESTED_EMPTY_RFC822);
        assert!(m.message_id.ends_with("@facteur.invalid"));
        assert_eq!(m.raw_size, NESTED_EMPTY_RFC822.len());
        if cfg!(debug_assertions) {
            assert!(
                m.defects.iter().any(|d| d.kind == DefectKind::Other),
                "{:?}",
                m.defects
            );
            assert!(m.body_text.contains("multipart/mixed"));
        }
    }

    #[test]
    fn missing_message_id_is_derived_from_content() {
        let a = parse_message(b"Subject: a\n\nbody\n");
        let b = parse_message(b"Subject: a\n\nbody!\n");
        assert_ne!(a.message_id, b.message_id);
        assert_eq!(
            a.message_id,
            format!("{}@facteur.invalid", &a.content_hash[..32])
        );
        assert!(a
            .defects
            .iter()
            .any(|d| d.kind == DefectKind::MissingMessageId));
    }

    #[test]
    fn undeclared_8bit_french_falls_back_to_windows_1252() {
        let m = parse_message(b"Subject: x\n\nR\xe9ponse \xe0 l'imp\xf4t de 80 \x80\n");
        assert_eq!(m.body_text, "Réponse à l'impôt de 80 €\n");
        let m = parse_message(
            b"Subject: x\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\nd=E9j=E0\n",
        );
        assert_eq!(m.body_text, "déjà\n");
        assert!(m
            .defects
            .iter()
            .any(|d| d.kind == DefectKind::InvalidCharsetBytes));
    }

    #[test]
    fn header_text_control_characters_are_cleaned() {
        assert_eq!(clean_header_text("  a\tb\r\n  c\u{7}d "), "a b c d");
    }
}
