//! Text from the files citizens attach (issue 19): the text layer of a PDF, and
//! optical character recognition of images and scanned pages.
//!
//! **Why external tools, and not a Rust PDF crate.** A citizen's PDF is hostile
//! input, and PDF parsers are where hostile input does its damage. The pure-Rust
//! reader `pdf-extract` panics by design on content it does not understand (its
//! maintainer prefers panics so that files get reported: jrmuizel/pdf-extract
//! #47, #129), and every family of PDF parser has had endless loops on damaged
//! files; inside the triage process neither could be stopped from outside.
//! Poppler's `pdftotext`/`pdftoppm` and Tesseract are the field's reference
//! tools (Debian `poppler-utils`, `tesseract-ocr`, `tesseract-ocr-fra`), and
//! running them as child processes gives the isolation this needs for free:
//! - each runs under `prlimit` (address space and CPU time), in a private temp
//!   directory, with no shell between;
//! - each is killed when the message's time budget runs out;
//! - its output is read up to a cap.
//!
//! A crash, a hang or a memory blow-up of the tool is then an [`ExtractFailure`]
//! for that attachment, never a failed triage.

mod run;

use std::path::Path;
use std::time::{Duration, Instant};

pub use facteur_core::{AttachmentText, ExtractFailure, ExtractMethod};
pub use run::ToolError;

/// What an attachment is, for extraction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Pdf,
    Image,
}

/// The kind of a file from its MIME type, or its name when the type is the
/// generic `application/octet-stream` some mailers send; `None`: not read.
pub fn kind_of(content_type: &str, filename: Option<&str>) -> Option<Kind> {
    let ct = content_type.to_ascii_lowercase();
    let ext = filename
        .and_then(|f| f.rsplit_once('.'))
        .map(|(_, e)| e.to_ascii_lowercase());
    match ct.as_str() {
        "application/pdf" | "application/x-pdf" => Some(Kind::Pdf),
        "image/png" | "image/jpeg" | "image/jpg" | "image/tiff" | "image/bmp" | "image/gif" => {
            Some(Kind::Image)
        }
        "application/octet-stream" | "" => match ext.as_deref() {
            Some("pdf") => Some(Kind::Pdf),
            Some("png" | "jpg" | "jpeg" | "tif" | "tiff") => Some(Kind::Image),
            _ => None,
        },
        _ => None,
    }
}

/// Limits and switches (`[attachments]` in `facteur.toml`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtractConfig {
    /// Read images and scanned pages with Tesseract (slower: about a second a
    /// page on these CPUs).
    pub ocr: bool,
    /// Tesseract's languages (`fra+eng`).
    pub ocr_languages: String,
    /// Time for all the attachments of one message together.
    pub budget: Duration,
    /// Pages read per PDF; the rest is left to the agent.
    pub max_pages: u32,
    /// Characters kept per attachment.
    pub max_chars: usize,
    /// Files larger than this are not read.
    pub max_bytes: usize,
    /// Address space of one tool process, in MiB.
    pub memory_mib: u64,
}

impl Default for ExtractConfig {
    fn default() -> Self {
        Self {
            ocr: false,
            ocr_languages: "fra+eng".into(),
            budget: Duration::from_secs(10),
            max_pages: 10,
            max_chars: 20_000,
            max_bytes: 20 * 1024 * 1024,
            memory_mib: 1024,
        }
    }
}

/// Fewer readable characters than this on a PDF's text layer: a scan.
const MIN_TEXT_CHARS: usize = 20;

/// An attachment with nothing read yet.
fn unread(filename: Option<&str>, content_type: &str) -> AttachmentText {
    AttachmentText {
        filename: filename.map(str::to_string),
        content_type: content_type.to_string(),
        method: None,
        pages: 0,
        text: String::new(),
        truncated: false,
        failure: None,
    }
}

/// The text of one attachment read with `cfg`, before `deadline`.
pub fn extract(
    bytes: &[u8],
    kind: Kind,
    filename: Option<&str>,
    content_type: &str,
    cfg: &ExtractConfig,
    deadline: Instant,
) -> AttachmentText {
    if bytes.len() > cfg.max_bytes {
        return AttachmentText {
            failure: Some(ExtractFailure::TooLarge),
            ..unread(filename, content_type)
        };
    }
    let mut out = unread(filename, content_type);
    let result = tempfile::tempdir()
        .map_err(|e| ToolError::Io(e.to_string()))
        .and_then(|dir| {
            let input = dir.path().join(match kind {
                Kind::Pdf => "in.pdf",
                Kind::Image => "in.img",
            });
            std::fs::write(&input, bytes).map_err(|e| ToolError::Io(e.to_string()))?;
            match kind {
                Kind::Pdf => read_pdf(&input, dir.path(), cfg, deadline),
                Kind::Image => ocr(&input, cfg, deadline).map(|t| (ExtractMethod::Ocr, 1, t)),
            }
        });
    match result {
        Ok((method, pages, text)) => {
            let text = tidy(&text);
            if text.chars().filter(|c| !c.is_whitespace()).count() < MIN_TEXT_CHARS {
                out.pages = pages;
                out.failure = Some(ExtractFailure::NoText);
                return out;
            }
            out.method = Some(method);
            out.pages = pages;
            out.truncated = text.chars().count() > cfg.max_chars;
            out.text = text.chars().take(cfg.max_chars).collect();
        }
        Err(e) => {
            tracing::info!(error = %e, "attachment text not extracted");
            out.failure = Some(e.failure());
        }
    }
    out
}

/// The PDF's text layer; OCR of its pages when it has none and OCR is on.
fn read_pdf(
    input: &Path,
    dir: &Path,
    cfg: &ExtractConfig,
    deadline: Instant,
) -> Result<(ExtractMethod, u32, String), ToolError> {
    let last = cfg.max_pages.to_string();
    let out = run::tool(
        "pdftotext",
        &[
            "-enc".as_ref(),
            "UTF-8".as_ref(),
            "-l".as_ref(),
            last.as_ref(),
            input.as_os_str(),
            "-".as_ref(),
        ],
        cfg,
        deadline,
    )?;
    let text = String::from_utf8_lossy(&out).into_owned();
    // pdftotext ends every page with a form feed.
    let pages = u32::try_from(text.matches('\u{c}').count()).unwrap_or(u32::MAX);
    let readable = text.chars().filter(|c| !c.is_whitespace()).count();
    if readable >= MIN_TEXT_CHARS || !cfg.ocr {
        return Ok((ExtractMethod::PdfText, pages, text));
    }
    // A scan: each page rendered, then read.
    let prefix = dir.join("page");
    run::tool(
        "pdftoppm",
        &[
            "-r".as_ref(),
            "200".as_ref(),
            "-gray".as_ref(),
            "-png".as_ref(),
            "-l".as_ref(),
            last.as_ref(),
            input.as_os_str(),
            prefix.as_os_str(),
        ],
        cfg,
        deadline,
    )?;
    let mut images: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| ToolError::Io(e.to_string()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "png"))
        .collect();
    images.sort();
    let mut text = String::new();
    for img in &images {
        text.push_str(&ocr(img, cfg, deadline)?);
        text.push('\u{c}');
    }
    Ok((
        ExtractMethod::Ocr,
        u32::try_from(images.len()).unwrap_or(u32::MAX),
        text,
    ))
}

/// Tesseract on one image.
fn ocr(image: &Path, cfg: &ExtractConfig, deadline: Instant) -> Result<String, ToolError> {
    if !cfg.ocr {
        return Err(ToolError::Disabled);
    }
    let out = run::tool(
        "tesseract",
        &[
            image.as_os_str(),
            "stdout".as_ref(),
            "-l".as_ref(),
            cfg.ocr_languages.as_ref(),
        ],
        cfg,
        deadline,
    )?;
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// Pages joined by a blank line, runs of blank lines folded, trailing spaces
/// gone.
fn tidy(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank = 0;
    for line in text.replace('\u{c}', "\n\n").lines() {
        let line = line.trim_end();
        if line.is_empty() {
            blank += 1;
            continue;
        }
        if !out.is_empty() {
            out.push_str(if blank > 0 { "\n\n" } else { "\n" });
        }
        blank = 0;
        out.push_str(line);
    }
    out
}

/// The attachments of a message worth reading, with their kind.
pub fn readable<'a>(
    metas: &'a [facteur_core::AttachmentMeta],
) -> impl Iterator<Item = (&'a facteur_core::AttachmentMeta, Kind)> + 'a {
    metas
        .iter()
        .filter_map(|m| kind_of(&m.content_type, m.filename.as_deref()).map(|k| (m, k)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_come_from_the_type_or_the_name_of_a_generic_file() {
        assert_eq!(kind_of("application/pdf", None), Some(Kind::Pdf));
        assert_eq!(kind_of("IMAGE/JPEG", Some("x")), Some(Kind::Image));
        assert_eq!(
            kind_of("application/octet-stream", Some("Avis.PDF")),
            Some(Kind::Pdf)
        );
        assert_eq!(kind_of("application/octet-stream", Some("a.exe")), None);
        assert_eq!(kind_of("text/plain", Some("a.pdf")), None);
    }

    #[test]
    fn text_is_tidied_page_by_page() {
        assert_eq!(tidy("a  \n\n\n\nb\u{c}c\n"), "a\n\nb\n\nc");
        assert_eq!(tidy("\n\n"), "");
    }

    #[test]
    fn too_large_files_are_not_read() {
        let cfg = ExtractConfig {
            max_bytes: 10,
            ..ExtractConfig::default()
        };
        let t = extract(
            &[0; 11],
            Kind::Pdf,
            Some("a.pdf"),
            "application/pdf",
            &cfg,
            Instant::now() + Duration::from_secs(1),
        );
        assert_eq!(t.failure, Some(ExtractFailure::TooLarge));
        assert!(t.text.is_empty());
    }
}
