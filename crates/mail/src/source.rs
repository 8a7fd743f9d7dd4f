//! Where messages come from: single .eml files, mbox files, Maildir folders, stdin.

use std::borrow::Cow;
use std::collections::HashSet;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::MailError;

/// One message's bytes and where they came from, for error messages and provenance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawMessage {
    /// `"path"`, or `"path#3"` for the 3rd message of an mbox.
    pub origin: String,
    /// The message's raw bytes, unparsed; for an mbox, with `>From ` lines unescaped.
    pub bytes: Vec<u8>,
}

/// How a source is split into messages, decided by `discover`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    /// A file holding exactly one message.
    Eml,
    /// A file of messages separated by `From ` lines.
    Mbox,
    /// A folder with `cur/`, `new/` and `tmp/`; messages are read from `cur/` and `new/`.
    Maildir,
}

/// One file or Maildir folder found by `discover`, not read yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailSource {
    /// The file, or the Maildir folder, as found on disk.
    pub path: PathBuf,
    /// How its messages are read.
    pub kind: SourceKind,
    /// Bytes on disk (for a Maildir, the sum of its messages): lets the CLI size a
    /// progress bar before reading anything.
    pub size: u64,
}

/// Directories are walked recursively; a directory with cur/ new/ tmp/ is a Maildir
/// (read cur and new); a file whose first non-empty line starts with "From " is an
/// mbox; any other file is one .eml message. Hidden entries (`.name`) are skipped.
/// Missing path -> MailError naming the path and saying what to do.
///
/// Each file and folder is read once, however it is reached: a symlink loop
/// (`dir/up -> ..`) or a folder named twice on the command line would otherwise
/// yield the same messages again and again.
pub fn discover(paths: &[PathBuf]) -> Result<Vec<MailSource>, MailError> {
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    for p in paths {
        let meta = fs::metadata(p).map_err(|e| MailError::io(p, e))?;
        if !seen.insert(identity(p, &meta)) {
            continue;
        }
        if meta.is_dir() {
            walk_dir(p, &mut out, &mut seen)?;
        } else {
            out.push(file_source(p, meta.len())?);
        }
    }
    Ok(out)
}

/// What makes two paths the same file or folder: device and inode where there are
/// inodes (no extra system call: the metadata is already read), else the canonical path.
#[derive(Debug, PartialEq, Eq, Hash)]
enum Identity {
    #[cfg_attr(not(unix), allow(dead_code))]
    Inode(u64, u64),
    #[cfg_attr(unix, allow(dead_code))]
    Path(PathBuf),
}

#[cfg(unix)]
fn identity(_path: &Path, meta: &fs::Metadata) -> Identity {
    use std::os::unix::fs::MetadataExt;
    Identity::Inode(meta.dev(), meta.ino())
}

#[cfg(not(unix))]
fn identity(path: &Path, _meta: &fs::Metadata) -> Identity {
    Identity::Path(fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf()))
}

fn is_maildir(dir: &Path) -> bool {
    ["cur", "new", "tmp"].iter().all(|d| dir.join(d).is_dir())
}

fn sorted_entries(dir: &Path) -> Result<Vec<fs::DirEntry>, MailError> {
    let mut entries = fs::read_dir(dir)
        .map_err(|e| MailError::io(dir, e))?
        .filter_map(Result::ok)
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .collect::<Vec<_>>();
    entries.sort_by_key(|e| e.file_name());
    Ok(entries)
}

fn walk_dir(
    dir: &Path,
    out: &mut Vec<MailSource>,
    seen: &mut HashSet<Identity>,
) -> Result<(), MailError> {
    if is_maildir(dir) {
        let size = maildir_files(dir)?
            .iter()
            .filter_map(|f| fs::metadata(f).ok())
            .map(|m| m.len())
            .sum();
        out.push(MailSource {
            path: dir.to_path_buf(),
            kind: SourceKind::Maildir,
            size,
        });
        return Ok(());
    }
    for entry in sorted_entries(dir)? {
        let path = entry.path();
        // Follow symlinks like a user would expect from `facteur triage dir/`.
        let Ok(meta) = fs::metadata(&path) else {
            tracing::warn!(path = %path.display(), "skipping unreadable entry");
            continue;
        };
        if !seen.insert(identity(&path, &meta)) {
            tracing::debug!(path = %path.display(), "already read through another path");
            continue;
        }
        if meta.is_dir() {
            walk_dir(&path, out, seen)?;
        } else if meta.is_file() {
            out.push(file_source(&path, meta.len())?);
        }
    }
    Ok(())
}

fn file_source(path: &Path, size: u64) -> Result<MailSource, MailError> {
    // The first non-empty line decides; 4 KiB is plenty to skip leading blank lines.
    let mut head = [0u8; 4096];
    let mut f = fs::File::open(path).map_err(|e| MailError::io(path, e))?;
    let mut n = 0;
    while n < head.len() {
        match f.read(&mut head[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(MailError::io(path, e)),
        }
    }
    let kind = if looks_like_mbox(head.get(..n).unwrap_or_default()) {
        SourceKind::Mbox
    } else {
        SourceKind::Eml
    };
    Ok(MailSource {
        path: path.to_path_buf(),
        kind,
        size,
    })
}

fn looks_like_mbox(bytes: &[u8]) -> bool {
    let start = bytes
        .iter()
        .position(|b| !matches!(b, b'\r' | b'\n' | b' ' | b'\t'))
        .unwrap_or(bytes.len());
    bytes.get(start..).is_some_and(|b| b.starts_with(b"From "))
}

fn maildir_files(dir: &Path) -> Result<Vec<PathBuf>, MailError> {
    let mut files = Vec::new();
    for sub in ["cur", "new"] {
        for e in sorted_entries(&dir.join(sub))? {
            let p = e.path();
            if p.is_file() {
                files.push(p);
            }
        }
    }
    Ok(files)
}

/// All the messages of a source at once. For small sources and tests: commands that
/// may meet a whole archive use [`read_messages`], which holds one message at a time.
pub fn read_source(src: &MailSource) -> Result<Vec<RawMessage>, MailError> {
    read_messages(src)?.collect()
}

/// The messages of a source one by one, each read from disk when asked for.
///
/// Why not read the file and split it: an mbox export of a mailbox's archive is
/// often several gigabytes, and a Maildir holds one file per message; reading all
/// of it first took twice the archive's size in memory (the file, then the
/// messages copied out of it). Here memory is one message, and [`consumed`]
/// (bytes read so far) lets a progress bar move within a big file.
///
/// The mbox is split exactly as [`split_mbox`] splits it (a property test checks
/// both on arbitrary bytes).
///
/// [`consumed`]: MessageReader::consumed
pub fn read_messages(src: &MailSource) -> Result<MessageReader, MailError> {
    let origin = src.path.display().to_string();
    let inner = match src.kind {
        SourceKind::Eml => Inner::Eml(Some(src.path.clone())),
        SourceKind::Maildir => Inner::Maildir(maildir_files(&src.path)?.into_iter()),
        SourceKind::Mbox => {
            let f = fs::File::open(&src.path).map_err(|e| MailError::io(&src.path, e))?;
            Inner::Mbox {
                path: src.path.clone(),
                stream: MboxStream::new(std::io::BufReader::with_capacity(1 << 16, f)),
            }
        }
    };
    Ok(MessageReader {
        inner,
        origin,
        consumed: 0,
    })
}

/// See [`read_messages`].
pub struct MessageReader {
    inner: Inner,
    origin: String,
    consumed: u64,
}

enum Inner {
    Eml(Option<PathBuf>),
    Maildir(std::vec::IntoIter<PathBuf>),
    Mbox {
        path: PathBuf,
        stream: MboxStream<std::io::BufReader<fs::File>>,
    },
}

impl MessageReader {
    /// Bytes read from disk so far.
    pub fn consumed(&self) -> u64 {
        match &self.inner {
            Inner::Mbox { stream, .. } => stream.consumed(),
            _ => self.consumed,
        }
    }
}

impl Iterator for MessageReader {
    type Item = Result<RawMessage, MailError>;

    fn next(&mut self) -> Option<Self::Item> {
        let read_file = |p: &Path| fs::read(p).map_err(|e| MailError::io(p, e));
        match &mut self.inner {
            Inner::Eml(path) => {
                let p = path.take()?;
                Some(read_file(&p).map(|bytes| {
                    self.consumed += bytes.len() as u64;
                    RawMessage {
                        origin: self.origin.clone(),
                        bytes,
                    }
                }))
            }
            Inner::Maildir(files) => {
                let p = files.next()?;
                Some(read_file(&p).map(|bytes| {
                    self.consumed += bytes.len() as u64;
                    RawMessage {
                        origin: p.display().to_string(),
                        bytes,
                    }
                }))
            }
            Inner::Mbox { path, stream } => match stream.next_message() {
                Ok(Some((n, bytes))) => Some(Ok(RawMessage {
                    origin: format!("{}#{n}", self.origin),
                    bytes,
                })),
                Ok(None) => None,
                Err(e) => {
                    // One read error ends the source: what follows cannot be trusted.
                    let e = MailError::io(path, e);
                    self.inner = Inner::Eml(None);
                    Some(Err(e))
                }
            },
        }
    }
}

/// [`split_mbox`] over a reader, one message at a time (see there for the rules).
pub struct MboxStream<R> {
    reader: R,
    line: Vec<u8>,
    /// The current message so far, without a trailing blank line held in `blank`.
    cur: Vec<u8>,
    /// The last line read, when blank: padding if a separator follows, else content.
    blank: Option<Vec<u8>>,
    at_start: bool,
    /// A separator has been seen: `cur` is a message, not text before the first one.
    in_message: bool,
    done: bool,
    count: usize,
    consumed: u64,
}

impl<R: std::io::BufRead> MboxStream<R> {
    /// Reads mbox messages from `reader` one at a time.
    pub fn new(reader: R) -> Self {
        MboxStream {
            reader,
            line: Vec::new(),
            cur: Vec::new(),
            blank: None,
            at_start: true,
            in_message: false,
            done: false,
            count: 0,
            consumed: 0,
        }
    }

    /// Bytes read so far.
    pub fn consumed(&self) -> u64 {
        self.consumed
    }

    /// The next message (its number from 1, and its bytes with `>From ` unescaped),
    /// or `None` at the end.
    pub fn next_message(&mut self) -> std::io::Result<Option<(usize, Vec<u8>)>> {
        while !self.done {
            self.line.clear();
            let n = loop {
                match self.reader.read_until(b'\n', &mut self.line) {
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    other => break other?,
                }
            };
            self.consumed += n as u64;
            if n == 0 {
                self.done = true;
                // The last message loses only the padding blank line after it; a
                // message that is nothing but a blank line keeps it (as split_mbox).
                if let Some(b) = self.blank.take() {
                    if self.cur.is_empty() || !self.in_message {
                        self.cur.extend_from_slice(&b);
                    }
                }
                let text = std::mem::take(&mut self.cur);
                if self.in_message || text.iter().any(|b| !b.is_ascii_whitespace()) {
                    return Ok(Some(self.emit(text)));
                }
                return Ok(None);
            }
            let separator =
                (self.at_start || self.blank.is_some()) && self.line.starts_with(b"From ");
            self.at_start = false;
            if separator {
                self.blank = None;
                let text = std::mem::take(&mut self.cur);
                let had_message = std::mem::replace(&mut self.in_message, true);
                if had_message || text.iter().any(|b| !b.is_ascii_whitespace()) {
                    return Ok(Some(self.emit(text)));
                }
            } else {
                if let Some(b) = self.blank.take() {
                    self.cur.extend_from_slice(&b);
                }
                let bare = self.line.strip_suffix(b"\n").unwrap_or(&self.line);
                let bare = bare.strip_suffix(b"\r").unwrap_or(bare);
                if bare.is_empty() {
                    self.blank = Some(self.line.clone());
                } else {
                    self.cur.extend_from_slice(&self.line);
                }
            }
        }
        Ok(None)
    }

    fn emit(&mut self, text: Vec<u8>) -> (usize, Vec<u8>) {
        self.count += 1;
        let bytes = match unescape_mbox_from(&text) {
            Cow::Borrowed(_) => text,
            Cow::Owned(o) => o,
        };
        (self.count, bytes)
    }
}

fn mbox_messages(bytes: &[u8], origin: &str) -> Vec<RawMessage> {
    split_mbox(bytes)
        .into_iter()
        .enumerate()
        .map(|(i, m)| RawMessage {
            origin: format!("{origin}#{}", i + 1),
            bytes: unescape_mbox_from(m).into_owned(),
        })
        .collect()
}

/// For stdin (`-`): an mbox if it starts with "From ", else one message.
pub fn split_input(bytes: &[u8], origin: &str) -> Vec<RawMessage> {
    if looks_like_mbox(bytes) {
        mbox_messages(bytes, origin)
    } else {
        vec![RawMessage {
            origin: origin.to_string(),
            bytes: bytes.to_vec(),
        }]
    }
}

/// Splits an mbox (mboxo or mboxrd, LF or CRLF) into messages, without the
/// `From ` separator lines and without the blank line mbox adds before the next one.
///
/// A separator is a `From ` line at the start of the file or after a blank line:
/// requiring the blank line keeps unescaped `From ` lines inside bodies (common in
/// mboxo written by careless tools) from cutting a message in two. Slices borrow the
/// input; `>From ` lines are unescaped by [`unescape_mbox_from`], which `read_source`
/// and `split_input` apply. Text before the first separator is kept as a message
/// rather than lost.
pub fn split_mbox(bytes: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    // Start of the current message, once a separator has been seen.
    let mut msg_start: Option<usize> = None;
    // Start of the previous line when it was blank (the mbox padding line).
    let mut blank_start: Option<usize> = None;
    let mut pos = 0;
    while pos < bytes.len() {
        let rest = bytes.get(pos..).unwrap_or_default();
        let line_end = memchr::memchr(b'\n', rest).map_or(bytes.len(), |p| pos + p + 1);
        let line = bytes.get(pos..line_end).unwrap_or_default();
        if (pos == 0 || blank_start.is_some()) && line.starts_with(b"From ") {
            let end = blank_start.unwrap_or(pos);
            match msg_start {
                Some(s) => out.push(bytes.get(s..end.max(s)).unwrap_or_default()),
                None => {
                    let pre = bytes.get(..end).unwrap_or_default();
                    if pre.iter().any(|b| !b.is_ascii_whitespace()) {
                        out.push(pre);
                    }
                }
            }
            msg_start = Some(line_end);
            blank_start = None;
        } else {
            let bare = line.strip_suffix(b"\n").unwrap_or(line);
            let bare = bare.strip_suffix(b"\r").unwrap_or(bare);
            blank_start = bare.is_empty().then_some(pos);
        }
        pos = line_end;
    }
    match msg_start {
        Some(s) => {
            // The last message loses only the padding blank line mbox adds after it.
            let end = match blank_start {
                Some(b) if b > s => b,
                _ => bytes.len(),
            };
            out.push(bytes.get(s..end).unwrap_or_default());
        }
        None => {
            if bytes.iter().any(|b| !b.is_ascii_whitespace()) {
                out.push(bytes);
            }
        }
    }
    out
}

/// Undoes mbox `From ` quoting: one `>` is removed from lines matching `^>+From `.
/// Borrowed when there is nothing to undo (the common case).
pub fn unescape_mbox_from(msg: &[u8]) -> Cow<'_, [u8]> {
    let needs = msg.starts_with(b">") && is_quoted_from(msg)
        || memchr::memmem::find_iter(msg, b"\n>").any(|p| is_quoted_from(&msg[p + 1..]));
    if !needs {
        return Cow::Borrowed(msg);
    }
    let mut out = Vec::with_capacity(msg.len());
    for line in msg.split_inclusive(|&b| b == b'\n') {
        if is_quoted_from(line) {
            out.extend_from_slice(&line[1..]);
        } else {
            out.extend_from_slice(line);
        }
    }
    Cow::Owned(out)
}

fn is_quoted_from(line: &[u8]) -> bool {
    let gts = line.iter().take_while(|b| **b == b'>').count();
    gts > 0 && line.get(gts..).is_some_and(|r| r.starts_with(b"From "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_lf_and_crlf() {
        let m = b"From a@b Mon Jan  1 00:00:00 2024\nSubject: 1\n\nbody1\n\nFrom c@d Tue Jan  2 00:00:00 2024\nSubject: 2\n\nbody2\n\n";
        let v = split_mbox(m);
        assert_eq!(
            v,
            vec![&b"Subject: 1\n\nbody1\n"[..], &b"Subject: 2\n\nbody2\n"[..]]
        );
        let c = b"From a\r\nSubject: 1\r\n\r\nb1\r\n\r\nFrom b\r\nSubject: 2\r\n\r\nb2\r\n";
        let v = split_mbox(c);
        assert_eq!(
            v,
            vec![
                &b"Subject: 1\r\n\r\nb1\r\n"[..],
                &b"Subject: 2\r\n\r\nb2\r\n"[..]
            ]
        );
    }

    #[test]
    fn from_without_blank_line_does_not_split() {
        let m = b"From a\nSubject: 1\n\nline\nFrom here on, text\n";
        assert_eq!(split_mbox(m).len(), 1);
    }

    #[test]
    fn unescapes_mboxrd() {
        assert_eq!(
            unescape_mbox_from(b"a\n>From x\n>>From y\n> From z\n").as_ref(),
            b"a\nFrom x\n>From y\n> From z\n"
        );
        assert!(matches!(unescape_mbox_from(b"plain\n"), Cow::Borrowed(_)));
    }

    #[test]
    fn split_input_single_or_mbox() {
        assert_eq!(split_input(b"Subject: x\n\nb", "-").len(), 1);
        let v = split_input(b"From a\nSubject: x\n\nb\n\nFrom b\nSubject: y\n\nc\n", "-");
        assert_eq!(v.len(), 2);
        assert_eq!(v[1].origin, "-#2");
    }
}
