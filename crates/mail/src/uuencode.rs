//! uuencode, still produced by old mailers and some scanners' "attach to text" mode.
//!
//! Written here because mail-parser leaves `begin 644 name` blocks inside the text
//! body and no maintained crate decodes them from a text stream; the format is tiny.

/// One `begin … end` block found in a text body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UuBlock {
    /// Name from the `begin <mode> <name>` line, as written.
    pub filename: String,
    /// The decoded bytes (what was decoded, when the block is incomplete).
    pub data: Vec<u8>,
    /// False when the `end` line is missing or a line did not decode.
    pub complete: bool,
}

/// Content-Transfer-Encoding values that mean uuencode.
pub fn is_uuencode_cte(cte: &str) -> bool {
    let c = cte.trim();
    ["x-uuencode", "uuencode", "x-uue"]
        .iter()
        .any(|k| c.eq_ignore_ascii_case(k))
}

/// `begin <octal mode> <name>`: returns the name.
fn begin_line(line: &str) -> Option<&str> {
    let rest = line.strip_prefix("begin ")?;
    let (mode, name) = rest.split_once(' ')?;
    if !(3..=4).contains(&mode.len()) || !mode.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
        return None;
    }
    let name = name.trim();
    (!name.is_empty()).then_some(name)
}

/// Decodes one uuencoded line into `out`; false if the line is not valid uuencode.
fn decode_line(line: &[u8], out: &mut Vec<u8>) -> bool {
    let Some((&len_ch, rest)) = line.split_first() else {
        return true;
    };
    if !(32..=96).contains(&len_ch) {
        return false;
    }
    let n = ((len_ch - 32) & 63) as usize;
    let val = |c: u8| (c.wrapping_sub(32)) & 63;
    let mut produced = 0;
    let mut ok = true;
    for chunk in rest.chunks(4) {
        if produced >= n {
            break;
        }
        if chunk.iter().any(|c| !(32..=96).contains(c)) {
            ok = false;
        }
        let g = |i: usize| val(chunk.get(i).copied().unwrap_or(b' '));
        let bytes = [
            (g(0) << 2) | (g(1) >> 4),
            (g(1) << 4) | (g(2) >> 2),
            (g(2) << 6) | g(3),
        ];
        for b in bytes {
            if produced < n {
                out.push(b);
                produced += 1;
            }
        }
    }
    ok && produced == n
}

/// Removes every uuencoded block from `text`, returning the cleaned text and the
/// decoded blocks in order.
pub fn extract(text: &str) -> (String, Vec<UuBlock>) {
    let mut clean = String::with_capacity(text.len());
    let mut blocks = Vec::new();
    let mut current: Option<UuBlock> = None;
    for line in text.split_inclusive('\n') {
        let bare = line.trim_end_matches(['\n', '\r']);
        match current.as_mut() {
            None => match begin_line(bare) {
                Some(name) => {
                    current = Some(UuBlock {
                        filename: name.to_string(),
                        data: Vec::new(),
                        complete: true,
                    })
                }
                None => clean.push_str(line),
            },
            Some(block) => {
                if bare == "end" {
                    if let Some(b) = current.take() {
                        blocks.push(b);
                    }
                } else if !decode_line(bare.as_bytes(), &mut block.data) {
                    block.complete = false;
                }
            }
        }
    }
    if let Some(mut b) = current {
        b.complete = false;
        blocks.push(b);
    }
    (clean, blocks)
}

/// Decodes a whole part sent with a uuencode Content-Transfer-Encoding (with or
/// without the `begin`/`end` framing).
pub fn decode_part(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    for line in bytes.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.starts_with(b"begin ") || line == b"end" || line.is_empty() {
            continue;
        }
        decode_line(line, &mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_known_block() {
        // `printf 'Cat' | uuencode cat.txt`
        let text = "Hello\nbegin 644 cat.txt\n#0V%T\n`\nend\nBye\n";
        let (clean, blocks) = extract(text);
        assert_eq!(clean, "Hello\nBye\n");
        assert_eq!(blocks.len(), 1);
        assert_eq!(blocks[0].filename, "cat.txt");
        assert_eq!(blocks[0].data, b"Cat");
        assert!(blocks[0].complete);
    }

    #[test]
    fn truncated_block_is_incomplete() {
        let (clean, blocks) = extract("x\nbegin 600 a.bin\n#0V%T\n");
        assert_eq!(clean, "x\n");
        assert!(!blocks[0].complete);
        assert_eq!(blocks[0].data, b"Cat");
    }

    #[test]
    fn ordinary_text_with_begin_is_kept() {
        let t = "begin the meeting at 10\nbegin 99 x\n";
        let (clean, blocks) = extract(t);
        assert_eq!(clean, t);
        assert!(blocks.is_empty());
    }

    #[test]
    fn part_decoding() {
        assert_eq!(decode_part(b"begin 644 c\r\n#0V%T\r\n`\r\nend\r\n"), b"Cat");
    }
}
