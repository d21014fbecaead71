//! The scan against Dovecot: `BODYSTRUCTURE` strings captured from Dovecot 2.3.19 for
//! the MIME fixtures and for edge cases, turned into trees by `structure::from_imap`.

use super::*;
use std::io::Read;

use structure::tree as from_bodystructure;

fn fixture(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/mime")
        .join(name);
    let bytes = std::fs::read(&path).expect("fixture");
    // Dovecot serves CRLF; the fixtures are stored that way already, but do not
    // depend on it.
    if bytes.windows(2).any(|w| w == b"\r\n") {
        bytes
    } else {
        bytes
            .iter()
            .flat_map(|&b| {
                if b == b'\n' {
                    vec![b'\r', b'\n']
                } else {
                    vec![b]
                }
            })
            .collect()
    }
}

fn slice(bytes: &[u8], range: Option<Range<u64>>) -> &[u8] {
    let range = range.expect("section");
    &bytes[range.start as usize..range.end as usize]
}

/// Checks what holds for every message: the tree is Dovecot's, and the header and
/// text of the message split it.
fn assert_like_dovecot(name: &str, bytes: &[u8], bodystructure: &str) -> Scanned {
    let scanned = scan(bytes).expect("scans");
    let (root, notes) = from_bodystructure(bodystructure);
    assert_eq!(scanned.root, root, "{name}");
    assert_eq!(scanned.notes, notes, "{name}");
    assert_eq!(scanned.size, bytes.len() as u64, "{name}");
    let header = scanned.header(None).expect("header");
    let text = scanned.text(None).expect("text");
    assert_eq!(
        (header.start, header.end, text.end),
        (0, text.start, scanned.size)
    );
    check_leaves(name, &scanned, &scanned.root);
    scanned
}

/// Every shown leaf has a body of its size, and every attached message a header and
/// text that make it up.
fn check_leaves(name: &str, scanned: &Scanned, node: &Node) {
    match &node.kind {
        Kind::Multipart(children) => children.iter().for_each(|c| check_leaves(name, scanned, c)),
        Kind::Leaf => {
            let body = scanned.body(&node.id).expect("leaf body");
            assert_eq!(body.end - body.start, node.size, "{name} {}", node.id);
        }
        Kind::Message(inner) => {
            let body = scanned.body(&node.id).expect("message body");
            assert_eq!(body.end - body.start, node.size, "{name} {}", node.id);
            let header = scanned.header(Some(&node.id)).expect("attached header");
            let text = scanned.text(Some(&node.id)).expect("attached text");
            assert_eq!(
                (header.start, header.end, text.end),
                (body.start, text.start, body.end)
            );
            if let Some(inner) = inner {
                check_leaves(name, scanned, inner);
            }
        }
    }
}

#[test]
fn every_fixture_has_dovecots_structure() {
    for (name, bodystructure) in FIXTURES {
        assert_like_dovecot(name, &fixture(name), bodystructure);
    }
}

#[test]
fn edge_cases_have_dovecots_structure() {
    for (name, bytes, bodystructure) in EDGE_CASES {
        assert_like_dovecot(name, bytes, bodystructure);
    }
}

#[test]
fn sections_slice_as_dovecot_serves_them() {
    // Lengths and starts of what Dovecot 2.3.19 returns for these sections.
    let bytes = fixture("03-mixed-attachments.eml");
    let scanned = scan(&bytes[..]).expect("scans");
    assert_eq!(slice(&bytes, scanned.header(None)).len(), 250);
    assert_eq!(slice(&bytes, scanned.text(None)).len(), 1702);
    assert_eq!(
        slice(&bytes, scanned.body("1")),
        b"Please find the report and the notes attached."
    );
    let pdf = slice(&bytes, scanned.body("2"));
    assert_eq!(pdf.len(), 1230);
    assert!(pdf.starts_with(b"JVBERi0xLjQK") && pdf.ends_with(b"JSVFT0YK"));
    assert_eq!(slice(&bytes, scanned.body("3")), b"Line one=0ALine two");
    let pdf = scanned.root.find("2").expect("pdf");
    assert_eq!(pdf.name.as_deref(), Some("Q3 résumé.pdf"));
    assert_eq!(pdf.encoding, Encoding::Base64);
    assert_eq!(pdf.disposition.as_deref(), Some("attachment"));
    assert!(slice(&bytes, scanned.mime("2")).starts_with(b"Content-Type: application/pdf"));
    assert!(scanned.body("4").is_none());

    let bytes = fixture("08-forwarded.eml");
    let scanned = scan(&bytes[..]).expect("scans");
    assert_eq!(slice(&bytes, scanned.header(None)).len(), 250);
    assert_eq!(slice(&bytes, scanned.text(None)).len(), 837);
    assert_eq!(slice(&bytes, scanned.body("1")), b"See the message below.");
    let attached = slice(&bytes, scanned.body("2"));
    assert_eq!(attached.len(), 649);
    assert!(attached.starts_with(b"From: Carla Diaz") && attached.ends_with(b"--inner--\r\n"));
    let header = slice(&bytes, scanned.header(Some("2")));
    assert_eq!(header.len(), 260);
    assert!(header.ends_with(b"boundary=\"inner\"\r\n\r\n"));
    assert_eq!(slice(&bytes, scanned.text(Some("2"))).len(), 389);
    assert_eq!(slice(&bytes, scanned.body("2.1")).len(), 178);
    assert_eq!(
        slice(&bytes, scanned.body("2.1.1")),
        b"The budget is attached."
    );
    assert_eq!(
        slice(&bytes, scanned.body("2.1.2")),
        b"<p>The <i>budget</i> is attached.</p>"
    );
    assert_eq!(
        slice(&bytes, scanned.body("2.2")),
        b"item,amount\r\nrent,1000"
    );
    assert_eq!(slice(&bytes, scanned.mime("2")).len(), 96);
    let Some(Node {
        kind: Kind::Message(Some(inner)),
        ..
    }) = scanned.root.find("2")
    else {
        panic!("not an attached message")
    };
    assert_eq!(
        (inner.id.as_str(), inner.mime.as_str()),
        ("2", "multipart/mixed")
    );

    // A single part: `1` is the body, as is the text.
    let bytes = fixture("04-latin1.eml");
    let scanned = scan(&bytes[..]).expect("scans");
    assert_eq!(slice(&bytes, scanned.header(None)).len(), 346);
    assert_eq!(scanned.body("1"), scanned.text(None));
    assert_eq!(
        slice(&bytes, scanned.body("1")),
        b"La r=E9union aura lieu =E0 Z=FCrich, =E7a marche?\r\n"
    );
}

#[test]
fn boundaries_that_never_come_leave_the_text_whole() {
    let bytes = fixture("09-missing-boundary.eml");
    let scanned = scan(&bytes[..]).expect("scans");
    // Dovecot: one empty text/plain part, and the raw text as BODY[TEXT].
    assert_eq!(slice(&bytes, scanned.body("1")), b"");
    assert_eq!(
        slice(&bytes, scanned.text(None)),
        b"This text sits where parts should be.\r\nThere is no boundary line at all.\r\n"
    );
}

#[test]
fn an_attached_single_part_message_is_numbered_inside() {
    let (_, bytes, _) = EDGE_CASES.iter().find(|c| c.0 == "L").expect("case");
    let scanned = scan(*bytes).expect("scans");
    let inner = scanned.root.find("2.1").expect("inner body");
    assert_eq!((inner.mime.as_str(), inner.depth), ("text/plain", 2));
    assert_eq!(slice(bytes, scanned.body("2.1")), b"inner body");
    assert_eq!(scanned.body("2.1"), scanned.text(Some("2")));
    assert_eq!(
        slice(bytes, scanned.header(Some("2"))),
        b"From: x@y\r\nSubject: inner\r\n\r\n"
    );
    assert_eq!(
        slice(bytes, scanned.body("2")),
        b"From: x@y\r\nSubject: inner\r\n\r\ninner body"
    );
}

#[test]
fn bare_line_feeds_end_lines_too() {
    let crlf = fixture("08-forwarded.eml");
    let lf: Vec<u8> = crlf.iter().copied().filter(|&b| b != b'\r').collect();
    let (from_crlf, from_lf) = (
        scan(&crlf[..]).expect("scans"),
        scan(&lf[..]).expect("scans"),
    );
    fn shape(node: &Node, out: &mut Vec<(String, String)>) {
        out.push((node.id.clone(), node.mime.clone()));
        match &node.kind {
            Kind::Leaf => {}
            Kind::Multipart(children) => children.iter().for_each(|c| shape(c, out)),
            Kind::Message(inner) => inner.iter().for_each(|c| shape(c, out)),
        }
    }
    let (mut a, mut b) = (Vec::new(), Vec::new());
    shape(&from_crlf.root, &mut a);
    shape(&from_lf.root, &mut b);
    assert_eq!(a, b);
    assert_eq!(slice(&lf, from_lf.body("2.2")), b"item,amount\nrent,1000");
    assert_eq!(
        slice(&lf, from_lf.body("2.1.1")),
        b"The budget is attached."
    );
}

/// `levels` multiparts, each inside the last, around one text part.
fn nested(levels: usize) -> Vec<u8> {
    let mut message = b"Subject: deep\r\n".to_vec();
    for level in 0..levels {
        message.extend(
            format!("Content-Type: multipart/mixed; boundary=b{level}x\r\n\r\n--b{level}x\r\n")
                .bytes(),
        );
    }
    message.extend(b"\r\ndeepest\r\n");
    for level in (0..levels).rev() {
        message.extend(format!("--b{level}x--\r\n").bytes());
    }
    message
}

#[test]
fn deep_nesting_is_cut_with_a_note() {
    let levels = 40;
    let mut expected =
        r#"("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 7 1 NIL NIL NIL NIL)"#.to_owned();
    for level in (0..levels).rev() {
        expected = format!(r#"({expected} "mixed" ("boundary" "b{level}x") NIL NIL NIL)"#);
    }
    let scanned = assert_like_dovecot("nested", &nested(levels), &expected);
    assert_eq!(scanned.notes, [Note::NestedTooDeep]);
    // Far deeper than any stack would allow if the scan recursed per level.
    let scanned = scan(&nested(200_000)[..]).expect("scans");
    assert_eq!(scanned.notes, [Note::NestedTooDeep]);
}

#[test]
fn many_parts_are_cut_with_a_note() {
    let parts = MAX_PARTS + 50;
    let mut message = b"Content-Type: multipart/mixed; boundary=m\r\n\r\n".to_vec();
    for _ in 0..parts {
        message.extend(b"--m\r\n\r\nx\r\n");
    }
    message.extend(b"--m--\r\n");
    let text = r#"("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 1 0 NIL NIL NIL NIL)"#;
    let expected = format!(
        r#"({} "mixed" ("boundary" "m") NIL NIL NIL)"#,
        text.repeat(parts)
    );
    let scanned = assert_like_dovecot("many", &message, &expected);
    assert_eq!(
        scanned.notes,
        [Note::TooManyParts {
            shown: MAX_PARTS as u32
        }]
    );
    // The root counts as a part, as in `structure::from_imap`.
    let Kind::Multipart(children) = &scanned.root.kind else {
        panic!("not a multipart")
    };
    assert_eq!(children.len(), MAX_PARTS - 1);
    assert!(scanned.body(&MAX_PARTS.to_string()).is_none());
}

/// A message made on the fly: a text part and a base64 attachment of `lines` lines
/// of 76 characters, so the test itself holds none of it.
struct BigMessage {
    head: std::io::Cursor<Vec<u8>>,
    lines: usize,
    tail: std::io::Cursor<Vec<u8>>,
    line: std::io::Cursor<Vec<u8>>,
}

impl Read for BigMessage {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.head.read(buf)?;
        if n > 0 {
            return Ok(n);
        }
        loop {
            let n = self.line.read(buf)?;
            if n > 0 {
                return Ok(n);
            }
            if self.lines == 0 {
                return self.tail.read(buf);
            }
            self.lines -= 1;
            let mut line = vec![b'Q'; 76];
            line.extend(b"\r\n");
            self.line = std::io::Cursor::new(line);
        }
    }
}

#[test]
fn a_large_attachment_is_scanned_as_a_stream() {
    let head = b"Subject: big\r\nContent-Type: multipart/mixed; boundary=\"big\"\r\n\r\n--big\r\n\r\nsee attached\r\n--big\r\nContent-Type: application/octet-stream; name=big.bin\r\nContent-Transfer-Encoding: base64\r\n\r\n".to_vec();
    let tail = b"--big--\r\n".to_vec();
    let lines = 20 * 1024 * 1024 / 78;
    let (head_len, tail_len) = (head.len() as u64, tail.len() as u64);
    let scanned = scan(BigMessage {
        head: std::io::Cursor::new(head),
        lines,
        tail: std::io::Cursor::new(tail),
        line: std::io::Cursor::new(Vec::new()),
    })
    .expect("scans");
    let total = head_len + lines as u64 * 78 + tail_len;
    assert_eq!(scanned.size, total);
    // The attachment's last line end belongs to the closing boundary.
    assert_eq!(
        scanned.body("2"),
        Some(head_len..head_len + lines as u64 * 78 - 2)
    );
    let attachment = scanned.root.find("2").expect("attachment");
    assert_eq!(attachment.size, lines as u64 * 78 - 2);
    assert_eq!(attachment.name.as_deref(), Some("big.bin"));
    assert_eq!(scanned.body("1").map(|r| r.end - r.start), Some(12));
}

#[test]
fn long_lines_are_read_in_pieces() {
    // A boundary-like text right where a long line is cut must not count.
    let mut message = b"Content-Type: multipart/mixed; boundary=m\r\n\r\n--m\r\n\r\n".to_vec();
    let start = message.len();
    message.extend(vec![b'x'; LINE_CAP - 1]);
    message.extend(b"\n--m\r\n".iter().skip(1));
    message.extend(vec![b'y'; 3 * LINE_CAP]);
    let end = message.len();
    message.extend(b"\r\n--m\r\n\r\nafter\r\n--m--\r\n");
    let scanned = scan(&message[..]).expect("scans");
    assert_eq!(scanned.body("1"), Some(start as u64..end as u64));
    assert_eq!(slice(&message, scanned.body("2")), b"after");
    // A header line longer than the cap does not end the header.
    let mut message = b"Subject: ".to_vec();
    message.extend(vec![b's'; 3 * LINE_CAP]);
    message.extend(b"\r\nContent-Type: text/html\r\n\r\n<p>hi</p>\r\n");
    let scanned = scan(&message[..]).expect("scans");
    assert_eq!(scanned.root.mime, "text/html");
    assert_eq!(slice(&message, scanned.body("1")), b"<p>hi</p>\r\n");
}

#[test]
fn a_huge_header_is_not_kept_but_its_end_is_found() {
    let mut message = Vec::new();
    for i in 0..20_000 {
        message.extend(format!("Content-X-Filler-{i}: {}\r\n", "f".repeat(20)).bytes());
    }
    let header_end = message.len() + 2;
    message.extend(b"\r\nbody\r\n");
    let scanned = scan(&message[..]).expect("scans");
    assert_eq!(scanned.header(None), Some(0..header_end as u64));
    assert_eq!(slice(&message, scanned.body("1")), b"body\r\n");
}

#[test]
fn an_empty_file_is_an_empty_message() {
    let scanned = scan(&b""[..]).expect("scans");
    let (root, _) = from_bodystructure(
        r#"("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0 NIL NIL NIL NIL)"#,
    );
    assert_eq!(scanned.root, root);
    assert_eq!(scanned.text(None), Some(0..0));
}

/// Each fixture with what Dovecot 2.3.19 gives as its `BODYSTRUCTURE`.
const FIXTURES: &[(&str, &str)] = &[
    (
        "01-alternative.eml",
        r#"(("text" "plain" ("charset" "utf-8") NIL NIL "quoted-printable" 39 0 NIL NIL NIL NIL)("text" "html" ("charset" "utf-8") NIL NIL "quoted-printable" 79 0 NIL NIL NIL NIL) "alternative" ("boundary" "alt") NIL NIL NIL)"#,
    ),
    (
        "02-related-cid.eml",
        r#"(("text" "html" ("charset" "utf-8") NIL NIL "7bit" 246 2 NIL NIL NIL NIL)("image" "png" NIL "<logo@example.org>" NIL "base64" 102 NIL ("inline" ("filename" "logo.png")) NIL NIL) "related" ("boundary" "rel" "type" "text/html") NIL NIL NIL)"#,
    ),
    (
        "03-mixed-attachments.eml",
        r#"(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 46 0 NIL NIL NIL NIL)("application" "pdf" ("name" "report.pdf") NIL NIL "base64" 1230 NIL ("attachment" ("filename*" "UTF-8''Q3%20r%C3%A9sum%C3%A9.pdf")) NIL NIL)("text" "plain" ("charset" "utf-8" "name" "notes.txt") NIL NIL "quoted-printable" 19 0 NIL ("attachment" ("filename" "notes.txt")) NIL NIL) "mixed" ("boundary" "mix") NIL NIL NIL)"#,
    ),
    (
        "04-latin1.eml",
        r#"("text" "plain" ("charset" "ISO-8859-1") NIL NIL "quoted-printable" 51 1 NIL NIL NIL NIL)"#,
    ),
    (
        "05-windows-1252.eml",
        r#"("text" "plain" ("charset" "windows-1252") NIL NIL "8bit" 27 1 NIL NIL NIL NIL)"#,
    ),
    (
        "06-iso-2022-jp.eml",
        r#"("text" "plain" ("charset" "ISO-2022-JP") NIL NIL "7bit" 34 1 NIL NIL NIL NIL)"#,
    ),
    (
        "07-utf8-8bit-headers.eml",
        r#"("text" "plain" ("charset" "utf-8") NIL NIL "8bit" 28 1 NIL NIL NIL NIL)"#,
    ),
    (
        "08-forwarded.eml",
        r#"(("text" "plain" ("charset" "utf-8") NIL NIL "7bit" 22 0 NIL NIL NIL NIL)("message" "rfc822" NIL NIL NIL "7bit" 649 ("Thu, 19 Nov 2026 09:30:00 +0100" "Original: budget figures" (("Carla Diaz" NIL "carla" "example.org")) (("Carla Diaz" NIL "carla" "example.org")) (("Carla Diaz" NIL "carla" "example.org")) (("Alice" NIL "alice" "example.org")) NIL NIL NIL "<7606715117480395678@example.org>") ((("text" "plain" ("charset" "utf-8") NIL NIL "7bit" 23 0 NIL NIL NIL NIL)("text" "html" ("charset" "utf-8") NIL NIL "7bit" 37 0 NIL NIL NIL NIL) "alternative" ("boundary" "inalt") NIL NIL NIL)("text" "csv" ("name" "budget.csv" "charset" "us-ascii") NIL NIL "7bit" 22 1 NIL ("attachment" ("filename" "budget.csv")) NIL NIL) "mixed" ("boundary" "inner") NIL NIL NIL) 27 NIL ("attachment" ("filename" "budget figures.eml")) NIL NIL) "mixed" ("boundary" "fwd") NIL NIL NIL)"#,
    ),
    (
        "09-missing-boundary.eml",
        r#"(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0 NIL NIL NIL NIL) "mixed" ("boundary" "nowhere") NIL NIL NIL)"#,
    ),
    (
        "10-damaged-base64.eml",
        r#"("text" "plain" ("charset" "utf-8") NIL NIL "base64" 44 1 NIL NIL NIL NIL)"#,
    ),
    (
        "11-unknown-charset.eml",
        r#"("text" "plain" ("charset" "x-martian") NIL NIL "8bit" 35 1 NIL NIL NIL NIL)"#,
    ),
    (
        "12-rfc2231-continuation.eml",
        r#"(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 33 0 NIL NIL NIL NIL)("application" "octet-stream" NIL NIL NIL "base64" 352 NIL ("attachment" ("filename*" "UTF-8''Jahresabschlu%C3%9F%202026%20%E2%80%93%20final.bin")) NIL NIL) "mixed" ("boundary" "b") NIL NIL NIL)"#,
    ),
    (
        "13-plain-links-quotes.eml",
        r#"("text" "plain" ("charset" "utf-8") NIL NIL "7bit" 184 6 NIL NIL NIL NIL)"#,
    ),
    (
        "14-html-only.eml",
        r#"("text" "html" ("charset" "utf-8") NIL NIL "quoted-printable" 203 3 NIL NIL NIL NIL)"#,
    ),
    (
        "15-no-mime-version.eml",
        r#"("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 24 1 NIL NIL NIL NIL)"#,
    ),
    (
        "16-no-boundary-parameter.eml",
        r#"(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0 NIL NIL NIL NIL) "mixed" NIL NIL NIL NIL)"#,
    ),
    (
        "17-cut-closing-boundary.eml",
        r#"(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 96 2 NIL NIL NIL NIL) "alternative" ("boundary" "cut") NIL NIL NIL)"#,
    ),
];

/// Edge cases, each with what Dovecot 2.3.19 gives as its `BODYSTRUCTURE`.
const EDGE_CASES: &[(&str, &[u8], &str)] = &[
    (
        "A1",
        b"From: a@b\r\nSubject: t\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=outer\r\n\r\n--outer\r\nContent-Type: multipart/alternative; boundary=inner\r\n\r\n--inner\r\n\r\none\r\n--inner\r\n\r\ntwo\r\n--outer\r\n\r\nthree\r\n--outer--\r\n",
        r#"((("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 3 0 NIL NIL NIL NIL)("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 3 0 NIL NIL NIL NIL) "alternative" ("boundary" "inner") NIL NIL NIL)("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 5 0 NIL NIL NIL NIL) "mixed" ("boundary" "outer") NIL NIL NIL)"#,
    ),
    (
        "A2",
        b"From: a@b\r\nSubject: t\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=a\r\n\r\n--a\r\nContent-Type: multipart/alternative; boundary=ab\r\n\r\n--ab\r\n\r\none\r\n--ab\r\n\r\ntwo\r\n--ab--\r\n--a\r\n\r\nthree\r\n--a--\r\n",
        r#"((("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 3 0 NIL NIL NIL NIL)("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 3 0 NIL NIL NIL NIL) "alternative" ("boundary" "ab") NIL NIL NIL)("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 5 0 NIL NIL NIL NIL) "mixed" ("boundary" "a") NIL NIL NIL)"#,
    ),
    (
        "A3",
        b"From: a@b\r\nSubject: t\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=ab\r\n\r\n--ab\r\nContent-Type: multipart/alternative; boundary=a\r\n\r\n--a\r\n\r\none\r\n--a\r\n\r\ntwo\r\n--a--\r\n--ab\r\n\r\nthree\r\n--ab--\r\n",
        r#"((("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 3 0 NIL NIL NIL NIL)("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 3 0 NIL NIL NIL NIL) "alternative" ("boundary" "a") NIL NIL NIL)("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 5 0 NIL NIL NIL NIL) "mixed" ("boundary" "ab") NIL NIL NIL)"#,
    ),
    (
        "A4",
        b"From: a@b\r\nSubject: t\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=ab\r\n\r\n--ab\r\nContent-Type: multipart/alternative; boundary=a\r\n\r\n--a\r\n\r\none\r\n--ab\r\n\r\nthree\r\n--ab--\r\n",
        r#"((("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 3 0 NIL NIL NIL NIL) "alternative" ("boundary" "a") NIL NIL NIL)("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 5 0 NIL NIL NIL NIL) "mixed" ("boundary" "ab") NIL NIL NIL)"#,
    ),
    (
        "A5",
        b"From: a@b\r\nSubject: t\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=a\r\n\r\n--a\r\nContent-Type: multipart/alternative; boundary=ab\r\n\r\n--ab\r\n\r\none\r\n--a\r\n\r\nthree\r\n--a--\r\n",
        r#"((("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 3 0 NIL NIL NIL NIL) "alternative" ("boundary" "ab") NIL NIL NIL)("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 5 0 NIL NIL NIL NIL) "mixed" ("boundary" "a") NIL NIL NIL)"#,
    ),
    (
        "A6",
        b"From: a@b\r\nSubject: t\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=a\r\n\r\n--a\r\nContent-Type: multipart/alternative; boundary=a\r\n\r\n--a\r\n\r\none\r\n--a--\r\n--a\r\n\r\nthree\r\n--a--\r\n",
        r#"((("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 3 0 NIL NIL NIL NIL) "alternative" ("boundary" "a") NIL NIL NIL)("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 5 0 NIL NIL NIL NIL) "mixed" ("boundary" "a") NIL NIL NIL)"#,
    ),
    (
        "B",
        b"From: a@b\r\nSubject: t\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed\r\n\r\nhello\r\n--x\r\n\r\nworld\r\n",
        r#"(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0 NIL NIL NIL NIL) "mixed" NIL NIL NIL NIL)"#,
    ),
    (
        "C",
        b"From: a@b\r\nSubject: t\r\nMIME-Version: 1.0\r\nContent-Type: multipart/digest; boundary=d\r\n\r\n--d\r\n\r\nFrom: x@y\r\nSubject: in\r\n\r\nbody one\r\n--d\r\nContent-Type: text/plain\r\n\r\nplain\r\n--d--\r\n",
        r#"(("message" "rfc822" NIL NIL NIL "7bit" 34 (NIL "in" ((NIL NIL "x" "y")) ((NIL NIL "x" "y")) ((NIL NIL "x" "y")) NIL NIL NIL NIL NIL) ("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 8 0 NIL NIL NIL NIL) 3 NIL NIL NIL NIL)("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 5 0 NIL NIL NIL NIL) "digest" ("boundary" "d") NIL NIL NIL)"#,
    ),
    (
        "D",
        b"From: a@b\r\nSubject: t\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=m\r\n\r\npreamble\r\n--m\r\n\r\none\r\n--m\r\n\r\ntwo\r\nmore\r",
        r#"(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 3 0 NIL NIL NIL NIL)("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 10 1 NIL NIL NIL NIL) "mixed" ("boundary" "m") NIL NIL NIL)"#,
    ),
    (
        "E",
        b"From: a@b\r\nSubject: t\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=m\r\n\r\npreamble line\r\n\r\n--m\r\n\r\none\r\n\r\n--m--\r\nepilogue\r\nmore\r\n",
        r#"(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 5 1 NIL NIL NIL NIL) "mixed" ("boundary" "m") NIL NIL NIL)"#,
    ),
    (
        "F",
        b"From: a@b\r\nSubject: t\r\nMIME-Version: 1.0\r\nContent-Type: text/plain\r",
        r#"("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0 NIL NIL NIL NIL)"#,
    ),
    (
        "G",
        b"From: a@b\r\nSubject: t\r\nMIME-Version: 1.0\r\nContent-Type: text/plain\r\nno colon line\r\nX-After: 1\r\n\r\nbody\r\n",
        r#"("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 6 1 NIL NIL NIL NIL)"#,
    ),
    (
        "I",
        b"From: a@b\r\nSubject: t\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=m\r\n\r\n--m  \r\n\r\none\r\n--mX\r\n\r\ntwo\r\n--m--  \r\n",
        r#"(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 3 0 NIL NIL NIL NIL)("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 3 0 NIL NIL NIL NIL) "mixed" ("boundary" "m") NIL NIL NIL)"#,
    ),
    (
        "J1",
        b"From: a@b\r\nSubject: t\r\nMIME-Version: 1.0\r\nContent-Type: foo\r\n\r\nbody\r\n",
        r#"("foo" "" NIL NIL NIL "7bit" 6 NIL NIL NIL NIL)"#,
    ),
    (
        "J10",
        b"From: a@b\r\nSubject: t\r\nMIME-Version: 1.0\r\nContent-Type: Multipart/Mixed; boundary=m\r\n\r\n--m\r\ncontent-type: TEXT/HTML\r\n\r\nx\r\n--m--\r\n",
        r#"(("TEXT" "HTML" ("charset" "us-ascii") NIL NIL "7bit" 1 0 NIL NIL NIL NIL) "Mixed" ("boundary" "m") NIL NIL NIL)"#,
    ),
    (
        "J2",
        b"From: a@b\r\nSubject: t\r\nMIME-Version: 1.0\r\nContent-Type: text\r\n\r\nbody\r\n",
        r#"("text" "" ("charset" "us-ascii") NIL NIL "7bit" 6 1 NIL NIL NIL NIL)"#,
    ),
    (
        "J3",
        b"From: a@b\r\nSubject: t\r\nMIME-Version: 1.0\r\nContent-Type: image/png; name=\"a b.png\"\r\nContent-Transfer-Encoding: BASE64\r\n\r\nAAAA\r\n",
        r#"("image" "png" ("name" "a b.png") NIL NIL "BASE64" 6 NIL NIL NIL NIL)"#,
    ),
    (
        "J4",
        b"From: a@b\r\nSubject: t\r\nMIME-Version: 1.0\r\nContent-Type: /\r\n\r\nbody\r\n",
        r#"("" "" NIL NIL NIL "7bit" 6 NIL NIL NIL NIL)"#,
    ),
    (
        "J5",
        b"From: a@b\r\nSubject: t\r\nMIME-Version: 1.0\r\nContent-Type: ;charset=x\r\n\r\nbody\r\n",
        r#"("" "" NIL NIL NIL "7bit" 6 NIL NIL NIL NIL)"#,
    ),
    (
        "J6",
        b"From: a@b\r\nSubject: t\r\nMIME-Version: 1.0\r\nContent-Type: text/plain/html\r\n\r\nbody\r\n",
        r#"("" "" NIL NIL NIL "7bit" 6 NIL NIL NIL NIL)"#,
    ),
    (
        "J7",
        b"From: a@b\r\nSubject: t\r\nMIME-Version: 1.0\r\nContent-Type: text / html (comment) ; charset = \"a\\\"b\" (c)\r\n\r\nbody\r\n",
        r#"("text" "html" ("charset" "a\"b") NIL NIL "7bit" 6 1 NIL NIL NIL NIL)"#,
    ),
    (
        "J8",
        b"From: a@b\r\nSubject: t\r\nMIME-Version: 1.0\r\nContent-Type:\r\n\r\nbody\r\n",
        r#"("" "" NIL NIL NIL "7bit" 6 NIL NIL NIL NIL)"#,
    ),
    (
        "J9",
        b"From: a@b\r\nSubject: t\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"\"\r\n\r\n--\r\n\r\nbody\r\n",
        r#"(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 6 1 NIL NIL NIL NIL) "mixed" ("boundary" "") NIL NIL NIL)"#,
    ),
    (
        "K",
        b"From: a@b\r\nSubject: t\r\nMIME-Version: 1.0\r\nContent-Type: application/x; name=q\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\nAAAA\r\n",
        r#"("application" "x" ("name" "q") NIL NIL "x-uuencode" 6 NIL NIL NIL NIL)"#,
    ),
    (
        "K1",
        b"From: a@b\r\nSubject: t\r\nMIME-Version: 1.0\r\nContent-Type: foo; charset=x; name=a\r\n\r\nbody\r\n",
        r#"("" "" NIL NIL NIL "7bit" 6 NIL NIL NIL NIL)"#,
    ),
    (
        "K2",
        b"From: a@b\r\nSubject: t\r\nMIME-Version: 1.0\r\nContent-Type: text/plain garbage; charset=x\r\n\r\nbody\r\n",
        r#"("" "" NIL NIL NIL "7bit" 6 NIL NIL NIL NIL)"#,
    ),
    (
        "K3",
        b"From: a@b\r\nSubject: t\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset; name=\"n.txt\"\r\n\r\nbody\r\n",
        r#"("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 6 1 NIL NIL NIL NIL)"#,
    ),
    (
        "K4",
        b"From: a@b\r\nSubject: t\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; name=\"a\";;; x=y z; q=r\r\n\r\nbody\r\n",
        r#"("text" "plain" ("name" "a" "x" "y" "q" "r" "charset" "us-ascii") NIL NIL "7bit" 6 1 NIL NIL NIL NIL)"#,
    ),
    (
        "K5",
        b"From: a@b\r\nSubject: t\r\nMIME-Version: 1.0\r\nContent-Type: application/x; name*0=\"ab\"; name*1=cd\r\nContent-Disposition: attachment; filename*0*=utf-8''%41; filename*1=\"b c\"\r\n\r\nbody\r\n",
        r#"("application" "x" ("name" "abcd") NIL NIL "7bit" 6 NIL ("attachment" ("filename*" "utf-8''%41b c")) NIL NIL)"#,
    ),
    (
        "L",
        b"From: a@b\r\nSubject: t\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=m\r\n\r\n--m\r\n\r\ntext\r\n--m\r\nContent-Type: message/rfc822\r\n\r\nFrom: x@y\r\nSubject: inner\r\n\r\ninner body\r\n--m--\r\n",
        r#"(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 4 0 NIL NIL NIL NIL)("message" "rfc822" NIL NIL NIL "7bit" 39 (NIL "inner" ((NIL NIL "x" "y")) ((NIL NIL "x" "y")) ((NIL NIL "x" "y")) NIL NIL NIL NIL NIL) ("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 10 0 NIL NIL NIL NIL) 3 NIL NIL NIL NIL) "mixed" ("boundary" "m") NIL NIL NIL)"#,
    ),
    (
        "LB",
        b"From: a@b\r\nSubject: t\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\r\n\r\n--bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\r\n\r\none\r\n--bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb--\r\n",
        r#"(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 3 0 NIL NIL NIL NIL)("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0 NIL NIL NIL NIL) "mixed" ("boundary" "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb") NIL NIL NIL)"#,
    ),
    (
        "M",
        b"From: a@b\r\nSubject: t\r\nMIME-Version: 1.0\r\nContent-Type: message/rfc822\r\n\r\nFrom: x@y\r\nSubject: inner\r\nContent-Type: multipart/mixed; boundary=z\r\n\r\n--z\r\n\r\nin1\r\n--z\r\nContent-Type: text/html\r\n\r\n<b>x</b>\r\n--z--\r\n",
        r#"("message" "rfc822" NIL NIL NIL "7bit" 133 (NIL "inner" ((NIL NIL "x" "y")) ((NIL NIL "x" "y")) ((NIL NIL "x" "y")) NIL NIL NIL NIL NIL) (("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 3 0 NIL NIL NIL NIL)("text" "html" ("charset" "us-ascii") NIL NIL "7bit" 8 0 NIL NIL NIL NIL) "mixed" ("boundary" "z") NIL NIL NIL) 12 NIL NIL NIL NIL)"#,
    ),
    (
        "N",
        b"From: a@b\r\nSubject: t\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=m\r\n\r\n--m\r\n--m\r\n\r\n--m\r\nContent-Type: text/html\r\n--m--\r\n",
        r#"(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0 NIL NIL NIL NIL)("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0 NIL NIL NIL NIL)("text" "html" ("charset" "us-ascii") NIL NIL "7bit" 0 0 NIL NIL NIL NIL) "mixed" ("boundary" "m") NIL NIL NIL)"#,
    ),
    (
        "P",
        b"From: a@b\r\nSubject: t\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=m\r\n\r\n--m\r\nContent-Type: text/html\r\nContent-ID:   <x@y>  \r\nContent-Disposition: INLINE; filename=a.html\r\nContent-Description: d\r\n\r\nhi\r\n--m--\r\n",
        r#"(("text" "html" ("charset" "us-ascii") "<x@y>  " "d" "7bit" 2 0 NIL ("INLINE" ("filename" "a.html")) NIL NIL) "mixed" ("boundary" "m") NIL NIL NIL)"#,
    ),
    (
        "U",
        b"From: a@b\r\nSubject: t\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=m\r\n\r\n--m\r\nContent-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\nRnJvbTogeEB5DQoNCmhp\r\n--m--\r\n",
        r#"(("message" "rfc822" NIL NIL NIL "base64" 22 (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL) ("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0 NIL NIL NIL NIL) 1 NIL NIL NIL NIL) "mixed" ("boundary" "m") NIL NIL NIL)"#,
    ),
    (
        "U_7BIT",
        b"From: a@b\r\nSubject: t\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=m\r\n\r\n--m\r\nContent-Type: message/rfc822\r\nContent-Transfer-Encoding: 7BIT\r\n\r\nFrom: x@y\r\n\r\nhi\r\n--m--\r\n",
        r#"(("message" "rfc822" NIL NIL NIL "7BIT" 15 (NIL NIL ((NIL NIL "x" "y")) ((NIL NIL "x" "y")) ((NIL NIL "x" "y")) NIL NIL NIL NIL NIL) ("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 2 0 NIL NIL NIL NIL) 2 NIL NIL NIL NIL) "mixed" ("boundary" "m") NIL NIL NIL)"#,
    ),
    (
        "U_8Bit",
        b"From: a@b\r\nSubject: t\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=m\r\n\r\n--m\r\nContent-Type: message/rfc822\r\nContent-Transfer-Encoding: 8Bit\r\n\r\nFrom: x@y\r\n\r\nhi\r\n--m--\r\n",
        r#"(("message" "rfc822" NIL NIL NIL "8Bit" 15 (NIL NIL ((NIL NIL "x" "y")) ((NIL NIL "x" "y")) ((NIL NIL "x" "y")) NIL NIL NIL NIL NIL) ("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 2 0 NIL NIL NIL NIL) 2 NIL NIL NIL NIL) "mixed" ("boundary" "m") NIL NIL NIL)"#,
    ),
    (
        "U_BINARY",
        b"From: a@b\r\nSubject: t\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=m\r\n\r\n--m\r\nContent-Type: message/rfc822\r\nContent-Transfer-Encoding: BINARY\r\n\r\nFrom: x@y\r\n\r\nhi\r\n--m--\r\n",
        r#"(("message" "rfc822" NIL NIL NIL "BINARY" 15 (NIL NIL ((NIL NIL "x" "y")) ((NIL NIL "x" "y")) ((NIL NIL "x" "y")) NIL NIL NIL NIL NIL) ("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 2 0 NIL NIL NIL NIL) 2 NIL NIL NIL NIL) "mixed" ("boundary" "m") NIL NIL NIL)"#,
    ),
    (
        "U_quoted-printable",
        b"From: a@b\r\nSubject: t\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=m\r\n\r\n--m\r\nContent-Type: message/rfc822\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nFrom: x@y\r\n\r\nhi\r\n--m--\r\n",
        r#"(("message" "rfc822" NIL NIL NIL "quoted-printable" 15 (NIL NIL ((NIL NIL "x" "y")) ((NIL NIL "x" "y")) ((NIL NIL "x" "y")) NIL NIL NIL NIL NIL) ("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 2 0 NIL NIL NIL NIL) 2 NIL NIL NIL NIL) "mixed" ("boundary" "m") NIL NIL NIL)"#,
    ),
    (
        "U_x-foo",
        b"From: a@b\r\nSubject: t\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=m\r\n\r\n--m\r\nContent-Type: message/rfc822\r\nContent-Transfer-Encoding: x-foo\r\n\r\nFrom: x@y\r\n\r\nhi\r\n--m--\r\n",
        r#"(("message" "rfc822" NIL NIL NIL "x-foo" 15 (NIL NIL ((NIL NIL "x" "y")) ((NIL NIL "x" "y")) ((NIL NIL "x" "y")) NIL NIL NIL NIL NIL) ("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 2 0 NIL NIL NIL NIL) 2 NIL NIL NIL NIL) "mixed" ("boundary" "m") NIL NIL NIL)"#,
    ),
    (
        "V",
        b"From: a@b\r\nSubject: t\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=m\r\n\r\n--m\r\nContent-Type: message/global\r\n\r\nFrom: x@y\r\n\r\nhi\r\n--m--\r\n",
        r#"(("message" "global" NIL NIL NIL "7bit" 15 NIL NIL NIL NIL) "mixed" ("boundary" "m") NIL NIL NIL)"#,
    ),
    (
        "W",
        b"From: a@b\r\nContent-Type: multipart/mixed; boundary=m\r\n\r\n--m\r\n\r\none\r\n--m--\r\n",
        r#"(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 3 0 NIL NIL NIL NIL) "mixed" ("boundary" "m") NIL NIL NIL)"#,
    ),
    (
        "X",
        b"From: a@b\r\nSubject: t\r\nMIME-Version: 1.0\r\nContent-Type: text/html\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nbody\r\n",
        r#"("text" "html" ("charset" "us-ascii") NIL NIL "7bit" 6 1 NIL NIL NIL NIL)"#,
    ),
    (
        "X2",
        b"From: a@b\r\nSubject: t\r\nMIME-Version: 1.0\r\nContent-Transfer-Encoding: base64\r\nContent-Transfer-Encoding: quoted-printable\r\nContent-Disposition: inline\r\nContent-Disposition: attachment; filename=z\r\nContent-ID: <1>\r\nContent-ID: <2>\r\nContent-Type: text/plain; CHARSET=UTF-8; Name=x\r\n\r\nbody\r\n",
        r#"("text" "plain" ("CHARSET" "UTF-8" "Name" "x") "<1>" NIL "base64" 6 1 NIL ("attachment" ("filename" "z")) NIL NIL)"#,
    ),
    (
        "Y",
        b"From: a@b\r\nSubject: t\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed;\r\n boundary=\"m m\";\r\n\x09charset=x\r\n\r\n--m m\r\nContent-Type: text/plain;\r\n  charset=\"ISO-8859-1\"\r\n\r\nhi\r\n--m m--\r\n",
        r#"(("text" "plain" ("charset" "ISO-8859-1") NIL NIL "7bit" 2 0 NIL NIL NIL NIL) "mixed" ("boundary" "m m" "charset" "x") NIL NIL NIL)"#,
    ),
    (
        "Z",
        b"From: a@b\r\nSubject: t\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=m; boundary=n\r\n\r\n--n\r\n\r\none\r\n--m\r\n\r\ntwo\r\n--m--\r\n",
        r#"(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 3 0 NIL NIL NIL NIL) "mixed" ("boundary" "m" "boundary" "n") NIL NIL NIL)"#,
    ),
];

/// Found by the `mime_scan` fuzz target: a header value ending inside a comment on
/// a backslash moved the cursor past its end, and the next token panicked.
#[test]
fn fuzz_mime_scan_a_comment_ending_in_a_backslash() {
    assert_eq!(token_text(b"base64 (comment \\"), "base64");
    assert_eq!(token_text(b"(comment \\"), "");
    let message =
        b"Content-Type: text/plain (x \\\r\nContent-Transfer-Encoding: (y \\\r\n\r\nbody\r\n";
    let scanned = scan(&message[..]).expect("scans");
    assert_eq!(scanned.size, message.len() as u64);
}
