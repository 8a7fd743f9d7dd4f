//! A light structural scan that names what mail-parser silently repairs.
//!
//! mail-parser recovers from almost everything without saying so. The agent needs to
//! know when a message was damaged (a truncated multipart may have lost the question),
//! so we re-check the few invariants that matter, cheaply: one pass over the header
//! block, and a boundary search per multipart. Details name the header or part,
//! never its value, because values may carry personal data.

use facteur_core::{Defect, DefectKind, ParsedMail};
use mail_parser::{HeaderName, Message, MessagePart, MimeHeaders, PartType};
use memchr::memmem;

/// Nested message/rfc822 depth we inspect; deeper nesting is a smell in itself and
/// mail-parser stops there too.
pub(crate) const MAX_DEPTH: usize = 8;

/// Multipart nesting depth down to which boundaries are checked. Each check scans
/// the part's whole body, so unbounded nesting made the scan quadratic (20,000
/// levels: 1.6 s); real mail nests a few levels.
const MAX_BOUNDARY_DEPTH: usize = 32;

/// Lines of the top header block, up to the first blank line.
///
/// Why on raw bytes: mail-parser folds a non-header line into the previous header or
/// the body without a trace, and that is exactly the damage we must report.
///
/// Returns the offset of the first body line when the blank separator is missing, so
/// the caller can recover the body mail-parser took for headers.
pub(crate) fn scan_top_headers(raw: &[u8], defects: &mut Vec<Defect>) -> Option<usize> {
    let mut seen_header = false;
    let mut body_at = None;
    let mut offset = 0usize;
    let mut first = true;
    let mut invalid_lines = 0usize;
    for full in raw.split_inclusive(|&b| b == b'\n') {
        let line_start = offset;
        offset += full.len();
        let line = trim_eol(full);
        if first {
            first = false;
            // An mbox "From " envelope line left on a single message is harmless.
            if line.starts_with(b"From ") {
                continue;
            }
        }
        if line.is_empty() {
            if !seen_header {
                defects.push(Defect::new(
                    DefectKind::NotAMessage,
                    "input starts with a blank line: no header at all",
                ));
            }
            break;
        }
        if line[0] == b' ' || line[0] == b'\t' {
            if !seen_header {
                invalid_lines += 1;
            }
            continue;
        }
        match header_name_end(line) {
            Some(_) => seen_header = true,
            None if !seen_header => {
                defects.push(Defect::new(
                    DefectKind::NotAMessage,
                    "input does not start with a header line",
                ));
                defects.push(Defect::new(
                    DefectKind::MissingHeaderBodySeparator,
                    "no header block before the body",
                ));
                return Some(0);
            }
            None => {
                if line.contains(&b':') {
                    // `Bad Name: value`: a damaged header rather than the body.
                    invalid_lines += 1;
                    continue;
                }
                defects.push(Defect::new(
                    DefectKind::MissingHeaderBodySeparator,
                    "a body line follows the headers without a blank line",
                ));
                body_at = Some(line_start);
                break;
            }
        }
    }
    if invalid_lines > 0 {
        defects.push(Defect::new(
            DefectKind::InvalidHeader,
            format!("{invalid_lines} header line(s) are not `Name: value`"),
        ));
    }
    if !seen_header && !raw.is_empty() && defects.is_empty() {
        defects.push(Defect::new(
            DefectKind::NotAMessage,
            "input has no header line",
        ));
    }
    if raw.is_empty() {
        defects.push(Defect::new(DefectKind::NotAMessage, "input is empty"));
    }
    body_at
}

fn trim_eol(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// `Some(len)` when the line starts with an RFC 5322 field name followed by `:`
/// (optionally with obsolete white space before the colon).
fn header_name_end(line: &[u8]) -> Option<usize> {
    let mut i = 0;
    while let Some(&b) = line.get(i) {
        match b {
            b':' => return (i > 0).then_some(i),
            33..=126 => i += 1,
            b' ' | b'\t' if i > 0 => {
                // obs-field: `Name  :`
                let rest = line.get(i..)?;
                let ws = rest
                    .iter()
                    .take_while(|c| **c == b' ' || **c == b'\t')
                    .count();
                return (rest.get(ws) == Some(&b':')).then_some(i);
            }
            _ => return None,
        }
    }
    None
}

/// Address and date headers that are present but unparsable.
pub(crate) fn check_parsed_headers(msg: &Message<'_>, out: &mut ParsedMail) {
    let non_empty = |name: HeaderName<'static>| {
        msg.header_raw(name)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    };
    if let Some(v) = non_empty(HeaderName::From) {
        if out.from.is_none() && !v.ends_with(';') {
            out.defects.push(Defect::new(
                DefectKind::InvalidHeader,
                "From header has no parsable address",
            ));
        }
    }
    for (name, list) in [(HeaderName::To, &out.to), (HeaderName::Cc, &out.cc)] {
        if let Some(v) = non_empty(name.clone()) {
            if list.is_empty() && !v.ends_with(';') {
                out.defects.push(Defect::new(
                    DefectKind::InvalidHeader,
                    format!("{} header has no parsable address", name.as_str()),
                ));
            }
        }
    }
    if non_empty(HeaderName::Date).is_some() && out.date.is_none() {
        out.defects.push(Defect::new(
            DefectKind::InvalidHeader,
            "Date header could not be parsed",
        ));
    }
}

/// Per-part checks over the whole MIME tree, nested messages included.
pub(crate) fn scan_structure(msg: &Message<'_>, defects: &mut Vec<Defect>) {
    scan_message(msg, "", 0, defects);
}

fn scan_message(msg: &Message<'_>, prefix: &str, depth: usize, defects: &mut Vec<Defect>) {
    let raw = msg.raw_message.as_ref();
    // Multipart depth of each part (children always come after their parent).
    let mut mp_depth = vec![0usize; msg.parts.len()];
    for (i, part) in msg.parts.iter().enumerate() {
        if let PartType::Multipart(children) = &part.body {
            let d = mp_depth[i] + 1;
            for &c in children {
                if let Some(slot) = mp_depth.get_mut(c as usize).filter(|_| c as usize > i) {
                    *slot = d;
                }
            }
        }
    }
    for (i, part) in msg.parts.iter().enumerate() {
        let label = || {
            if i == 0 && prefix.is_empty() {
                "message".to_string()
            } else if i == 0 {
                format!("part {prefix}")
            } else if prefix.is_empty() {
                format!("part {i}")
            } else {
                format!("part {prefix}.{i}")
            }
        };
        check_transfer_encoding(part, &label, defects);
        match &part.body {
            PartType::Multipart(_) if mp_depth[i] >= MAX_BOUNDARY_DEPTH => {
                defects.push(Defect::new(
                    DefectKind::Other,
                    format!(
                        "multiparts nested deeper than {MAX_BOUNDARY_DEPTH} levels: inner boundaries not checked"
                    ),
                ));
            }
            PartType::Multipart(_) => check_boundaries(part, raw, &label, defects),
            PartType::Text(t) | PartType::Html(t) => check_text(part, t, &label, defects),
            PartType::Message(nested) if depth < MAX_DEPTH => {
                let p = if prefix.is_empty() {
                    i.to_string()
                } else {
                    format!("{prefix}.{i}")
                };
                scan_message(nested, &p, depth + 1, defects);
            }
            _ => {}
        }
        if part.is_encoding_problem && declared_encoded(part) {
            defects.push(Defect::new(
                DefectKind::InvalidEncodedContent,
                format!(
                    "{}: base64 or quoted-printable content did not decode",
                    label()
                ),
            ));
        }
        // A multipart content type that mail-parser could not treat as one because the
        // boundary is missing ends up as a leaf part.
        if !matches!(part.body, PartType::Multipart(_)) {
            if let Some(ct) = part.content_type() {
                if ct.c_type.eq_ignore_ascii_case("multipart") && ct.attribute("boundary").is_none()
                {
                    defects.push(Defect::new(
                        DefectKind::NoBoundaryInMultipart,
                        format!("{}: multipart without a boundary parameter", label()),
                    ));
                }
            }
        }
    }
}

fn declared_encoded(part: &MessagePart<'_>) -> bool {
    part.content_transfer_encoding().is_some_and(|c| {
        let c = c.trim();
        c.eq_ignore_ascii_case("base64") || c.eq_ignore_ascii_case("quoted-printable")
    })
}

const KNOWN_CTE: &[&str] = &[
    "7bit",
    "8bit",
    "binary",
    "quoted-printable",
    "base64",
    "x-uuencode",
    "uuencode",
    "x-uue",
];

fn check_transfer_encoding(
    part: &MessagePart<'_>,
    label: &dyn Fn() -> String,
    defects: &mut Vec<Defect>,
) {
    // Read the raw header: mail-parser's parsed value drops what it cannot tokenise.
    let Some(h) = part
        .headers
        .iter()
        .find(|h| h.name == HeaderName::ContentTransferEncoding)
    else {
        return;
    };
    let value = match h.value() {
        mail_parser::HeaderValue::Text(t) => t.trim(),
        _ => "",
    };
    if !KNOWN_CTE.iter().any(|k| value.eq_ignore_ascii_case(k)) {
        defects.push(Defect::new(
            DefectKind::InvalidTransferEncoding,
            format!("{}: unrecognised Content-Transfer-Encoding", label()),
        ));
    }
}

fn check_boundaries(
    part: &MessagePart<'_>,
    raw: &[u8],
    label: &dyn Fn() -> String,
    defects: &mut Vec<Defect>,
) {
    let Some(ct) = part.content_type() else {
        return;
    };
    let Some(boundary) = ct.attribute("boundary").filter(|b| !b.is_empty()) else {
        defects.push(Defect::new(
            DefectKind::NoBoundaryInMultipart,
            format!("{}: multipart without a boundary parameter", label()),
        ));
        return;
    };
    let start = (part.offset_body as usize).min(raw.len());
    let end = (part.offset_end as usize).clamp(start, raw.len());
    let body = raw.get(start..end).unwrap_or_default();
    let mut delim = Vec::with_capacity(boundary.len() + 2);
    delim.extend_from_slice(b"--");
    delim.extend_from_slice(boundary.as_bytes());

    let mut found_start = false;
    let mut found_close = false;
    for pos in memmem::find_iter(body, &delim) {
        let at_line_start = pos == 0 || body.get(pos - 1) == Some(&b'\n');
        if !at_line_start {
            continue;
        }
        let after = body.get(pos + delim.len()..).unwrap_or_default();
        if after.starts_with(b"--") {
            found_close = true;
        } else {
            found_start = true;
        }
    }
    if !found_start {
        defects.push(Defect::new(
            DefectKind::StartBoundaryNotFound,
            format!("{}: no opening boundary line", label()),
        ));
    }
    if !found_close {
        defects.push(Defect::new(
            DefectKind::CloseBoundaryNotFound,
            format!("{}: no closing boundary line", label()),
        ));
    }
}

fn check_text(
    part: &MessagePart<'_>,
    text: &str,
    label: &dyn Fn() -> String,
    defects: &mut Vec<Defect>,
) {
    let charset = part
        .content_type()
        .and_then(|ct| ct.attribute("charset"))
        .map(str::trim);
    if let Some(cs) = charset {
        if !charset_known(cs) {
            defects.push(Defect::new(
                DefectKind::UnknownCharset,
                format!("{}: unknown charset, decoded as UTF-8", label()),
            ));
        }
    }
    if text.contains('\u{FFFD}') {
        defects.push(Defect::new(
            DefectKind::InvalidCharsetBytes,
            format!(
                "{}: bytes invalid in the declared charset were replaced",
                label()
            ),
        ));
    }
}

pub(crate) fn charset_known(cs: &str) -> bool {
    let cs = cs.trim_matches(['"', '\'', ' ']);
    cs.is_empty()
        || ["utf-8", "utf8", "us-ascii", "ascii", "unicode-1-1-utf-8"]
            .iter()
            .any(|k| cs.eq_ignore_ascii_case(k))
        || mail_parser::decoders::charsets::map::charset_decoder(cs.as_bytes()).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn top(raw: &[u8]) -> Vec<DefectKind> {
        let mut d = Vec::new();
        scan_top_headers(raw, &mut d);
        d.into_iter().map(|d| d.kind).collect()
    }

    #[test]
    fn clean_headers_have_no_defect() {
        assert!(top(b"From: a@b\r\nSubject: x\r\n folded\r\n\r\nbody\r\n").is_empty());
        assert!(top(b"From a@b Mon Jan 1 00:00:00 2024\nSubject: x\n\nbody\n").is_empty());
    }

    #[test]
    fn body_line_in_headers_is_missing_separator() {
        assert_eq!(
            top(b"Subject: x\nthis is the body\n"),
            vec![DefectKind::MissingHeaderBodySeparator]
        );
    }

    #[test]
    fn no_header_is_not_a_message() {
        let d = top(b"hello world\nsecond line\n");
        assert!(d.contains(&DefectKind::NotAMessage), "{d:?}");
        assert_eq!(top(b""), vec![DefectKind::NotAMessage]);
    }

    #[test]
    fn bad_field_name_is_invalid_header() {
        assert_eq!(
            top(b"Subject: x\nBad Name: y\n\nbody"),
            vec![DefectKind::InvalidHeader]
        );
    }

    #[test]
    fn header_name_rules() {
        assert_eq!(header_name_end(b"Subject: x"), Some(7));
        assert_eq!(header_name_end(b"Subject  : x"), Some(7));
        assert_eq!(header_name_end(b": x"), None);
        assert_eq!(header_name_end(b"no colon"), None);
    }

    #[test]
    fn charsets() {
        assert!(charset_known("UTF-8"));
        assert!(charset_known("koi8-r"));
        assert!(charset_known("windows-1252"));
        assert!(charset_known("utf-7"));
        assert!(!charset_known("x-no-such-charset"));
    }
}
