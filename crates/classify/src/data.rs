//! Labelled examples and their JSON-lines file format.

use crate::ClassifyError;
use serde::{Deserialize, Serialize};
use std::path::Path;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Example {
    pub text: String,
    pub label: String,
}

/// Reads JSON lines `{"text", "label"}`, skipping blank lines. Errors name the file
/// and the 1-based line so whoever curates the data can fix it; the offending text
/// itself is never echoed (it may hold personal data). A UTF-8 byte-order mark (as
/// spreadsheet and Windows editors write) and CRLF line ends are accepted; a line
/// that is not UTF-8 is reported by its number rather than as a whole-file failure.
pub fn read_jsonl(path: &Path) -> Result<Vec<Example>, ClassifyError> {
    let raw = std::fs::read(path).map_err(|error| ClassifyError::Io {
        path: path.to_path_buf(),
        error,
    })?;
    let raw = raw.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&raw);
    let mut out = Vec::new();
    for (i, line) in raw.split(|&b| b == b'\n').enumerate() {
        let line_no = i + 1;
        let bad = |message: String| ClassifyError::BadLine {
            path: path.to_path_buf(),
            line: line_no,
            message,
        };
        let line = std::str::from_utf8(line)
            .map_err(|_| bad("not UTF-8 text: save the file as UTF-8".into()))?;
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.trim().is_empty() {
            continue;
        }
        let v: serde_json::Value =
            serde_json::from_str(line).map_err(|e| bad(format!("bad JSON: {e}")))?;
        let field = |name: &str| -> Result<String, ClassifyError> {
            match v.get(name) {
                Some(serde_json::Value::String(s)) => Ok(s.clone()),
                Some(_) => Err(bad(format!("field \"{name}\" is not a string"))),
                None => Err(bad(format!("missing field \"{name}\""))),
            }
        };
        let text = field("text")?;
        let label = field("label")?;
        if text.trim().is_empty() {
            return Err(bad("empty text".into()));
        }
        if label.trim().is_empty() {
            return Err(bad("empty label".into()));
        }
        out.push(Example { text, label });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn file(content: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().expect("tempfile");
        f.write_all(content.as_bytes()).expect("write");
        f
    }

    #[test]
    fn reads_good_lines_and_skips_blank_ones() {
        let f = file(
            "{\"text\":\"a b\",\"label\":\"x\"}\n\n{\"text\":\"c\",\"label\":\"y\",\"extra\":1}\n",
        );
        let ex = read_jsonl(f.path()).expect("ok");
        assert_eq!(ex.len(), 2);
        assert_eq!(
            ex[1],
            Example {
                text: "c".into(),
                label: "y".into()
            }
        );
    }

    #[test]
    fn errors_name_file_and_line() {
        let cases = [
            ("{\"text\":\"a\",\"label\":\"x\"}\n{oops\n", 2, "bad JSON"),
            (
                "{\"text\":\"a\",\"label\":\"x\"}\n\n{\"text\":\"a\"}\n",
                3,
                "missing field \"label\"",
            ),
            ("{\"text\":\"  \",\"label\":\"x\"}\n", 1, "empty text"),
            ("{\"text\":3,\"label\":\"x\"}\n", 1, "not a string"),
        ];
        for (content, line, what) in cases {
            let f = file(content);
            let err = read_jsonl(f.path()).expect_err("must fail").to_string();
            let name = f.path().display().to_string();
            assert!(err.contains(&format!("{name}:{line}:")), "{err}");
            assert!(err.contains(what), "{err}");
        }
        let missing = read_jsonl(Path::new("/nonexistent/x.jsonl")).expect_err("missing file");
        assert!(missing.to_string().contains("/nonexistent/x.jsonl"));
        // Said once, not repeated by an error chain.
        assert!(std::error::Error::source(&missing).is_none());
        assert_eq!(missing.to_string().matches("No such file").count(), 1);
        let mut f = tempfile::NamedTempFile::new().expect("tempfile");
        f.write_all(b"{\"text\":\"a\",\"label\":\"x\"}\n{\"text\":\"imp\xf4t\",\"label\":\"y\"}\n")
            .expect("write");
        let err = read_jsonl(f.path()).expect_err("latin-1 line").to_string();
        assert!(err.contains(":2: not UTF-8"), "{err}");
    }

    #[test]
    fn accepts_a_byte_order_mark_and_crlf_lines() {
        let f = file("\u{feff}{\"text\":\"a b\",\"label\":\"x\"}\r\n\r\n{\"text\":\"c\",\"label\":\"y\"}\r\n");
        let ex = read_jsonl(f.path()).expect("ok");
        assert_eq!(ex.len(), 2);
        assert_eq!(ex[0].text, "a b");
        assert_eq!(ex[1].label, "y");
    }
}
