//! Property tests: hostile input never panics, and mbox splitting loses nothing.

use facteur_mail::{html_to_text, parse_message, split_mbox, unescape_mbox_from, MboxStream};
use proptest::prelude::*;

/// A plausible message skeleton whose pieces proptest mutates: real structure reaches
/// deeper parser states than random bytes do.
fn corpus_like() -> impl Strategy<Value = Vec<u8>> {
    let header = prop_oneof![
        Just("Content-Type: multipart/mixed; boundary=\"b\"".to_string()),
        Just("Content-Type: text/plain; charset=koi8-r".to_string()),
        Just("Content-Type: text/html; charset=utf-7".to_string()),
        Just("Content-Type: message/rfc822".to_string()),
        Just("Content-Transfer-Encoding: base64".to_string()),
        Just("Content-Transfer-Encoding: quoted-printable".to_string()),
        Just("Content-Transfer-Encoding: 7-bit".to_string()),
        Just("Subject: =?utf-8?B?w6k=?= =?iso-8859-1?Q?=E9?=".to_string()),
        Just("Content-Disposition: attachment; filename*=utf-8''%C3%A9".to_string()),
        "[A-Za-z-]{1,12}: [ -~]{0,40}",
    ];
    let body_line = prop_oneof![
        Just("--b".to_string()),
        Just("--b--".to_string()),
        Just("".to_string()),
        Just("begin 644 f.bin".to_string()),
        Just("#0V%T".to_string()),
        Just("end".to_string()),
        Just("<p>a <a href='x'>b</a>".to_string()),
        Just("=E9=3D=\r".to_string()),
        "[ -~]{0,60}",
    ];
    (
        prop::collection::vec(header, 0..8),
        prop::collection::vec(body_line, 0..30),
        any::<bool>(),
        prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..6),
    )
        .prop_map(|(headers, body, crlf, flips)| {
            let eol = if crlf { "\r\n" } else { "\n" };
            let mut s = headers.join(eol);
            s.push_str(eol);
            s.push_str(eol);
            s.push_str(&body.join(eol));
            let mut bytes = s.into_bytes();
            for (i, b) in flips {
                if !bytes.is_empty() {
                    let at = i.index(bytes.len());
                    bytes[at] = b;
                }
            }
            bytes
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn parse_never_panics_on_arbitrary_bytes(raw in prop::collection::vec(any::<u8>(), 0..2048)) {
        let m = parse_message(&raw);
        prop_assert!(!m.message_id.is_empty());
        prop_assert_eq!(m.raw_size, raw.len());
    }

    #[test]
    fn parse_never_panics_on_mutated_messages(raw in corpus_like()) {
        let m = parse_message(&raw);
        prop_assert!(!m.message_id.is_empty());
    }

    #[test]
    fn html_to_text_never_panics(s in "\\PC{0,300}", t in "[<>/a-z=\"' &#;!-]{0,200}") {
        let _ = html_to_text(&s);
        let out = html_to_text(&t);
        prop_assert!(!out.contains("<script"));
    }

    #[test]
    fn split_mbox_never_panics(raw in prop::collection::vec(any::<u8>(), 0..2048)) {
        for m in split_mbox(&raw) {
            let _ = unescape_mbox_from(m);
        }
    }

    /// The streaming reader that `facteur triage` and `import` use on mbox files
    /// splits exactly as `split_mbox` does, on any bytes, whatever the read sizes.
    #[test]
    fn mbox_stream_splits_as_split_mbox(
        pieces in prop::collection::vec(
            prop_oneof![
                Just(b"From a@b Mon Jan  1 00:00:00 2024\n".to_vec()),
                Just(b"From \r\n".to_vec()),
                Just(b">From x\n".to_vec()),
                Just(b">>From y\r\n".to_vec()),
                Just(b"\n".to_vec()),
                Just(b"\r\n".to_vec()),
                Just(b" \t\n".to_vec()),
                Just(b"Subject: x\n".to_vec()),
                prop::collection::vec(any::<u8>(), 0..12),
            ],
            0..40,
        ),
        buf in 1usize..64,
    ) {
        let raw: Vec<u8> = pieces.concat();
        let want: Vec<Vec<u8>> =
            split_mbox(&raw).into_iter().map(|m| unescape_mbox_from(m).into_owned()).collect();
        let mut stream = MboxStream::new(std::io::BufReader::with_capacity(buf, &raw[..]));
        let mut got = Vec::new();
        while let Some((n, m)) = stream.next_message().unwrap() {
            prop_assert_eq!(n, got.len() + 1);
            got.push(m);
        }
        prop_assert_eq!(got, want);
        prop_assert_eq!(stream.consumed(), raw.len() as u64);
    }

    /// Writing messages as an mbox (separator line, `>From ` quoting, padding blank
    /// line) and splitting it back gives the messages unchanged.
    #[test]
    fn mbox_round_trip_keeps_messages(
        bodies in prop::collection::vec(
            prop::collection::vec(
                prop_oneof![Just("From me".to_string()), Just(">From x".to_string()), Just("".to_string()), "[ -~]{0,30}"],
                0..8,
            ),
            1..6,
        ),
        crlf in any::<bool>(),
    ) {
        let eol = if crlf { "\r\n" } else { "\n" };
        let msgs: Vec<String> = bodies
            .iter()
            .map(|lines| {
                let mut m = format!("Subject: x{eol}{eol}");
                for l in lines {
                    m.push_str(l);
                    m.push_str(eol);
                }
                m
            })
            .collect();
        let mut mbox = String::new();
        for m in &msgs {
            mbox.push_str(&format!("From sender@example.test Mon Jan  1 00:00:00 2024{eol}"));
            for line in m.split_inclusive('\n') {
                let gts = line.bytes().take_while(|b| *b == b'>').count();
                if line[gts..].starts_with("From ") {
                    mbox.push('>');
                }
                mbox.push_str(line);
            }
            mbox.push_str(eol);
        }
        let split = split_mbox(mbox.as_bytes());
        prop_assert_eq!(split.len(), msgs.len());
        for (got, want) in split.iter().zip(&msgs) {
            let got = unescape_mbox_from(got);
            prop_assert_eq!(String::from_utf8_lossy(&got), want.as_str());
        }
    }
}
