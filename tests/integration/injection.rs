//! No value a browser can send adds a command or a header on the wire. Generated
//! values full of CR, LF, NUL, quotes, backslashes, braces, literal markers and
//! whole smuggled commands go in as folder names, search terms, keywords, move
//! targets, subjects, display names, addresses and sign-in names; recording
//! servers read what the bridge sends by each protocol's grammar, and every
//! request must have produced exactly the commands it asks for, carrying exactly
//! the value given (or none, where the bridge refuses the value).

use anyhow::{Result, bail, ensure};
use protocol::search::Test;
use protocol::{Address, Draft, Flag, Reply, Request};
use tests::recorder::{Command, Recorders, SmtpEvent, Word};
use tests::{AccountSpec, Bridge, User, WsClient};

/// Pieces values are made of: the bytes each protocol treats specially, and whole
/// commands and headers a value might try to smuggle in.
const PIECES: &[&str] = &[
    "a",
    "Z",
    "7",
    " ",
    "\r",
    "\n",
    "\r\n",
    "\0",
    "\"",
    "\\",
    "{",
    "}",
    "{5}",
    "{3+}",
    "{0}\r\n",
    "(",
    ")",
    "[",
    "]",
    "*",
    "%",
    "&",
    "&-",
    "+",
    "-",
    ":",
    "<",
    ">",
    "@",
    ",",
    ";",
    ".",
    "\t",
    "\x7f",
    "é",
    "日本",
    "😀",
    "A1 LOGOUT",
    "\r\nX1 DELETE INBOX\r\n",
    "~{4}\r\n",
    "\r\n.\r\n",
    "\r\nBcc: x@evil.example",
    "\r\nRCPT TO:<x@evil.example>",
    "\r\nDELE 1",
    "subject:",
    "from:",
    "NIL",
    "$Label",
    "\\Seen",
];

/// A small deterministic generator (xorshift), so a failure repeats.
struct Values(u64);

impl Values {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn value(&mut self) -> String {
        (0..1 + self.below(6))
            .map(|_| PIECES[self.below(PIECES.len())])
            .collect()
    }
}

/// IMAP commands the bridge may send in a session; anything else is a command
/// that a value made up.
const VERBS: &[&str] = &[
    "CAPABILITY",
    "LOGIN",
    "AUTHENTICATE",
    "ENABLE",
    "ID",
    "NAMESPACE",
    "LIST",
    "LSUB",
    "STATUS",
    "SELECT",
    "EXAMINE",
    "CREATE",
    "DELETE",
    "RENAME",
    "SUBSCRIBE",
    "UNSUBSCRIBE",
    "NOOP",
    "CHECK",
    "CLOSE",
    "UNSELECT",
    "EXPUNGE",
    "IDLE",
    "LOGOUT",
    "APPEND",
    "SEARCH",
    "FETCH",
    "STORE",
    "COPY",
    "MOVE",
    "UID FETCH",
    "UID SEARCH",
    "UID STORE",
    "UID COPY",
    "UID MOVE",
    "UID EXPUNGE",
    "UID SORT",
    "UID THREAD",
];

/// The operations values go into, one a request.
#[derive(Debug, Clone, Copy)]
enum Operation {
    CreateFolder,
    RenameFolder,
    Search,
    Keyword,
    Move,
}

const OPERATIONS: [Operation; 5] = [
    Operation::CreateFolder,
    Operation::RenameFolder,
    Operation::Search,
    Operation::Keyword,
    Operation::Move,
];

fn request(operation: Operation, value: &str) -> Request {
    match operation {
        Operation::CreateFolder => Request::CreateFolder {
            parent: None,
            name: value.to_owned(),
        },
        Operation::RenameFolder => Request::RenameFolder {
            folder: "Work".to_owned(),
            parent: None,
            name: value.to_owned(),
        },
        Operation::Search => Request::Search {
            query: value.to_owned(),
            folder: "INBOX".to_owned(),
            limit: 10,
        },
        Operation::Keyword => Request::SetFlags {
            folder: "INBOX".to_owned(),
            uids: vec![1],
            add: vec![Flag::Keyword(value.to_owned())],
            remove: Vec::new(),
        },
        Operation::Move => Request::MoveMessages {
            folder: "INBOX".to_owned(),
            uids: vec![1],
            to: value.to_owned(),
        },
    }
}

/// The command an operation asks for.
fn verb_of(operation: Operation) -> &'static str {
    match operation {
        Operation::CreateFolder => "CREATE",
        Operation::RenameFolder => "RENAME",
        Operation::Search => "UID SEARCH",
        Operation::Keyword => "UID STORE",
        Operation::Move => "UID MOVE",
    }
}

/// A mailbox name as the bridge writes it (modified UTF-7), read back.
fn mailbox(word: &Word) -> Option<String> {
    word.text().map(|name| utf7_decode(&name))
}

fn utf7_decode(name: &str) -> String {
    utf7_imap::decode_utf7_imap(name.to_owned())
}

/// Every command must parse, carry a tag of its own and be one the bridge sends.
fn well_formed(command: &Command) -> Result<()> {
    ensure!(
        command.words.is_some(),
        "a command that does not parse: {:?}",
        command.raw
    );
    if command.tag == "DONE" && command.words.as_ref().is_some_and(Vec::is_empty) {
        return Ok(());
    }
    ensure!(
        !command.tag.is_empty() && command.tag.bytes().all(|b| b.is_ascii_alphanumeric()),
        "a command with tag {:?}: {:?}",
        command.tag,
        command.raw
    );
    ensure!(
        VERBS.contains(&command.verb().as_str()),
        "a command the bridge does not send: {:?}",
        command.raw
    );
    Ok(())
}

/// Search keys the bridge spells, and the shapes of numbers, sets and days.
fn search_atom(atom: &str) -> bool {
    const KEYS: &[&str] = &[
        "ALL",
        "NOT",
        "OR",
        "TEXT",
        "FROM",
        "TO",
        "CC",
        "SUBJECT",
        "BODY",
        "HEADER",
        "KEYWORD",
        "SEEN",
        "UNSEEN",
        "FLAGGED",
        "SENTBEFORE",
        "SENTSINCE",
        "LARGER",
        "SMALLER",
        "UID",
        "CHARSET",
        "UTF-8",
        "RETURN",
        "Content-Type",
        "\"multipart/mixed\"",
        "$HasAttachment",
    ];
    KEYS.iter().any(|k| k.eq_ignore_ascii_case(atom))
        || atom
            .bytes()
            .all(|b| b.is_ascii_digit() || b":,*".contains(&b))
}

/// What one request sent: exactly its one command with exactly `value`, or
/// nothing if the bridge refused the value.
fn check_imap(
    operation: Operation,
    value: &str,
    answer: &Result<Reply, protocol::WireError>,
    sent: &[Command],
) -> Result<()> {
    for command in sent {
        well_formed(command)?;
    }
    let verb = verb_of(operation);
    let asked: Vec<&Command> = sent.iter().filter(|c| c.verb() == verb).collect();
    if answer.is_err() {
        ensure!(asked.is_empty(), "refused, yet sent {asked:?}");
        return Ok(());
    }
    match operation {
        Operation::Search => {
            let query = protocol::search::parse(value).map_err(|e| anyhow::anyhow!("{e:?}"))?;
            let values: Vec<String> = query
                .terms
                .iter()
                .filter_map(|t| match &t.test {
                    Test::Text(v)
                    | Test::From(v)
                    | Test::To(v)
                    | Test::Cc(v)
                    | Test::Subject(v)
                    | Test::Body(v) => Some(v.clone()),
                    _ => None,
                })
                .collect();
            ensure!(
                (1..=1 + values.len()).contains(&asked.len()),
                "{} searches",
                asked.len()
            );
            for command in asked {
                for word in command.arguments() {
                    match word {
                        Word::Atom(atom) => {
                            ensure!(
                                search_atom(atom),
                                "search key {atom:?} in {:?}",
                                command.raw
                            )
                        }
                        Word::Quoted(_) | Word::Literal(_) => {
                            let text = word.text().unwrap_or_default();
                            ensure!(
                                values.contains(&text) || is_day(&text),
                                "searched for {text:?}, which {value:?} did not ask for"
                            );
                        }
                        Word::Open | Word::Close => {}
                    }
                }
            }
        }
        _ => {
            ensure!(
                asked.len() == 1,
                "{verb} sent {} times for {value:?}",
                asked.len()
            );
            let arguments = asked[0].arguments();
            match operation {
                Operation::CreateFolder => {
                    ensure!(arguments.len() == 1, "CREATE {arguments:?}");
                    // Names are trimmed, as people type them.
                    let name = mailbox(&arguments[0]);
                    ensure!(
                        name.as_deref() == Some(value.trim()),
                        "created {name:?} for {value:?}"
                    );
                }
                Operation::RenameFolder => {
                    ensure!(arguments.len() == 2, "RENAME {arguments:?}");
                    ensure!(
                        arguments[0].text().as_deref() == Some("Work"),
                        "RENAME {arguments:?}"
                    );
                    let name = mailbox(&arguments[1]);
                    ensure!(
                        name.as_deref() == Some(value.trim()),
                        "renamed to {name:?} for {value:?}"
                    );
                }
                Operation::Keyword => {
                    let flags: Vec<&Word> = arguments
                        .iter()
                        .skip_while(|w| **w != Word::Open)
                        .filter(|w| !matches!(w, Word::Open | Word::Close))
                        .collect();
                    ensure!(
                        flags == [&Word::Atom(value.to_owned())],
                        "stored {flags:?} for {value:?}"
                    );
                }
                Operation::Move => {
                    ensure!(arguments.len() == 2, "UID MOVE {arguments:?}");
                    // A folder is named by its id on the server, as it was listed.
                    let name = arguments[1].text();
                    ensure!(
                        name.as_deref() == Some(value),
                        "moved to {name:?} for {value:?}"
                    );
                }
                Operation::Search => unreachable!(),
            }
        }
    }
    Ok(())
}

/// A day as IMAP writes it, `1-Dec-2026`.
fn is_day(text: &str) -> bool {
    let parts: Vec<&str> = text.split('-').collect();
    parts.len() == 3
        && parts[0].bytes().all(|b| b.is_ascii_digit())
        && parts[1].len() == 3
        && parts[2].len() == 4
}

async fn signed_in(bridge: &Bridge, account: &str) -> Result<WsClient> {
    let mut client = bridge.connect().await?;
    client
        .sign_in(Some(account), &User::new("me", "password"))
        .await??;
    Ok(client)
}

/// Runs `count` generated values through the IMAP operations, against a server
/// that offers `LITERAL+` or not.
async fn imap_values(literal_plus: bool, count: usize, seed: u64) -> Result<usize> {
    let mut recorders = Recorders::new()?;
    let (imap, log) = recorders.imap(literal_plus).await?;
    let account = AccountSpec {
        name: "Recorded".to_owned(),
        imap,
        pop3: None,
        ca_file: Some(recorders.ca_file()),
        extra: String::new(),
    };
    let bridge = Bridge::start_counting_every(&[account], None, 3600).await?;
    let mut client = signed_in(&bridge, "Recorded").await?;
    client
        .ok(Request::OpenFolder {
            folder: "INBOX".to_owned(),
            limit: 10,
            sort: protocol::Sort::default(),
        })
        .await?;
    for command in log.since(0) {
        well_formed(&command)?;
    }
    let mut values = Values(seed);
    let mut refused = 0;
    for i in 0..count {
        let value = values.value();
        let operation = OPERATIONS[i % OPERATIONS.len()];
        let from = log.len();
        let answer = client.request(request(operation, &value)).await?;
        refused += usize::from(answer.is_err());
        if let Err(e) = check_imap(operation, &value, &answer, &log.since(from)) {
            bail!("{operation:?} of {value:?} (LITERAL+ {literal_plus}): {e:#}");
        }
    }
    Ok(refused)
}

#[tokio::test]
async fn no_value_adds_an_imap_command_with_synchronizing_literals() -> Result<()> {
    let refused = imap_values(false, 4_000, 0x9e37_79b9_7f4a_7c15).await?;
    eprintln!("4000 values, {refused} refused by the bridge");
    Ok(())
}

#[tokio::test]
async fn no_value_adds_an_imap_command_with_literal_plus() -> Result<()> {
    let refused = imap_values(true, 4_000, 0x2545_f491_4f6c_dd1d).await?;
    eprintln!("4000 values, {refused} refused by the bridge");
    Ok(())
}

/// Header fields a sent message may have, each at most once.
const HEADERS: &[&str] = &[
    "from",
    "sender",
    "to",
    "cc",
    "subject",
    "date",
    "message-id",
    "mime-version",
    "content-type",
    "content-transfer-encoding",
    "user-agent",
    "in-reply-to",
    "references",
    "reply-to",
];

#[tokio::test]
async fn no_value_adds_an_smtp_command_or_a_header() -> Result<()> {
    let mut recorders = Recorders::new()?;
    let (imap, imap_log) = recorders.imap(false).await?;
    let (smtp, log) = recorders.smtp().await?;
    let account = AccountSpec {
        name: "Recorded".to_owned(),
        imap,
        pop3: None,
        ca_file: Some(recorders.ca_file()),
        extra: format!("smtp = {smtp:?}\ndomain = \"example.org\"\nsent_copy = \"append\"\n"),
    };
    let bridge = Bridge::start_counting_every(&[account], None, 3600).await?;
    let mut client = signed_in(&bridge, "Recorded").await?;
    let mut values = Values(0xd1b5_4a32_d192_ed03);
    let (mut sent, mut refused) = (0, 0);
    for i in 0..1_500 {
        let subject = values.value();
        let name = values.value();
        // Most addresses are good ones, so that most messages go.
        let local = if i % 4 == 0 {
            values.value()
        } else {
            format!("bob{i}")
        };
        let to = Address {
            name: Some(name.clone()),
            email: format!("{local}@example.org"),
        };
        let plain = Address {
            name: None,
            email: "bob@example.org".to_owned(),
        };
        let draft = Draft {
            to: vec![to.clone(), plain.clone()],
            subject: subject.clone(),
            text: "Hello.".to_owned(),
            ..Draft::default()
        };
        let from = log.len();
        let answer = client
            .request(Request::SendMessage {
                draft: Box::new(draft),
                hold_seconds: 0,
            })
            .await?;
        let events = log.since(from);
        let what = format!("subject {subject:?}, to {to:?}");
        let lines: Vec<String> = events
            .iter()
            .filter_map(|e| match e {
                SmtpEvent::Line(l) => Some(l.clone()),
                SmtpEvent::Message(_) => None,
            })
            .collect();
        for line in &lines {
            ensure!(line.ends_with("\r\n") && !line[..line.len() - 2].contains(['\r', '\n', '\0']));
            let upper = line.to_ascii_uppercase();
            ensure!(
                [
                    "EHLO ",
                    "AUTH ",
                    "MAIL FROM:",
                    "RCPT TO:",
                    "DATA",
                    "RSET",
                    "QUIT",
                    "NOOP"
                ]
                .iter()
                .any(|c| upper.starts_with(c)),
                "{what}: the bridge sent {line:?}"
            );
        }
        let count = |prefix: &str| {
            lines
                .iter()
                .filter(|l| l.to_ascii_uppercase().starts_with(prefix))
                .count()
        };
        let messages: Vec<&Vec<u8>> = events
            .iter()
            .filter_map(|e| match e {
                SmtpEvent::Message(m) => Some(m),
                SmtpEvent::Line(_) => None,
            })
            .collect();
        if answer.is_err() {
            refused += 1;
            ensure!(
                count("MAIL FROM:") == 0 && messages.is_empty(),
                "{what}: refused, yet sent"
            );
            continue;
        }
        sent += 1;
        ensure!(count("MAIL FROM:") == 1, "{what}: {lines:?}");
        let recipients: Vec<&String> = lines
            .iter()
            .filter(|l| l.to_ascii_uppercase().starts_with("RCPT TO:"))
            .collect();
        ensure!(recipients.len() == 2, "{what}: {recipients:?}");
        for (line, address) in recipients.iter().zip([&to.email, &plain.email]) {
            let named = line.trim_end()["RCPT TO:".len()..]
                .split(' ')
                .next()
                .unwrap_or_default();
            ensure!(named == format!("<{address}>"), "{what}: {line:?}");
        }
        ensure!(messages.len() == 1, "{what}: {} messages", messages.len());
        let message = messages[0];
        let end = message
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .unwrap_or(message.len());
        let mut seen = Vec::new();
        for line in String::from_utf8_lossy(&message[..end]).split("\r\n") {
            if line.starts_with([' ', '\t']) {
                continue;
            }
            let name = line.split_once(':').map(|(n, _)| n.to_ascii_lowercase());
            let Some(name) = name.filter(|n| HEADERS.contains(&n.as_str())) else {
                bail!("{what}: a header line {line:?}");
            };
            ensure!(!seen.contains(&name), "{what}: {name} twice");
            seen.push(name);
        }
        let parsed = mail_parser::MessageParser::new()
            .parse(message)
            .ok_or_else(|| anyhow::anyhow!("{what}: unparsable"))?;
        let got = parsed.subject().unwrap_or_default();
        ensure!(
            got == subject.trim() || got == subject,
            "{what}: the subject reads {got:?}"
        );
    }
    // The copies in Sent went as APPENDs of their own.
    let appends = imap_log
        .since(0)
        .iter()
        .filter(|c| c.verb() == "APPEND")
        .count();
    for command in imap_log.since(0) {
        well_formed(&command)?;
    }
    let verbs: std::collections::BTreeSet<String> =
        imap_log.since(0).iter().map(Command::verb).collect();
    ensure!(
        appends == sent,
        "{appends} copies kept of {sent} sent: {verbs:?}"
    );
    eprintln!("1500 messages: {sent} sent, {refused} refused by the bridge");
    Ok(())
}

#[tokio::test]
async fn no_sign_in_name_adds_a_pop3_command() -> Result<()> {
    let mut recorders = Recorders::new()?;
    let (pop3, log) = recorders.pop3().await?;
    let account = AccountSpec {
        name: "Recorded".to_owned(),
        imap: String::new(),
        pop3: Some(pop3),
        ca_file: Some(recorders.ca_file()),
        extra: String::new(),
    };
    let bridge = Bridge::start(&[account], None).await?;
    let mut values = Values(0x8cb9_2ba7_2f3d_8dd7);
    let mut refused = 0;
    for _ in 0..300 {
        let name = values.value();
        let from = log.len();
        let mut client = bridge.connect().await?;
        let answer = client
            .sign_in(Some("Recorded"), &User::new(&name, "password"))
            .await?;
        if answer.is_ok() {
            client.ok(Request::SignOut).await?;
        } else {
            refused += 1;
        }
        let lines = log.since(from);
        for line in &lines {
            ensure!(
                line.ends_with("\r\n") && !line[..line.len() - 2].contains(['\r', '\n', '\0']),
                "{name:?}: {line:?}"
            );
            let verb = line
                .split([' ', '\r'])
                .next()
                .unwrap_or_default()
                .to_ascii_uppercase();
            ensure!(
                [
                    "CAPA", "STLS", "AUTH", "USER", "PASS", "STAT", "UIDL", "LIST", "TOP", "RETR",
                    "DELE", "NOOP", "RSET", "QUIT"
                ]
                .contains(&verb.as_str()),
                "{name:?}: the bridge sent {line:?}"
            );
        }
        let users: Vec<&String> = lines.iter().filter(|l| l.starts_with("USER ")).collect();
        if answer.is_ok() {
            ensure!(
                users.len() <= 1
                    && users
                        .iter()
                        .all(|l| l.trim_end_matches("\r\n") == format!("USER {name}")),
                "{name:?}: {users:?}"
            );
        }
    }
    eprintln!("300 sign-in names, {refused} refused");
    Ok(())
}
