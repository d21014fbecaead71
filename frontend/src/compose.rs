//! The message being written, as the compose form holds it: recipients read from
//! what is typed or pasted, the text a reply or forward starts with, and what must
//! be settled before sending. Plain data and functions, unit-tested natively.

use protocol::{Address, ComposeKind, Draft, DraftSource, Quote, address_problem};

/// One of the three recipient fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    To,
    Cc,
    Bcc,
}

impl Field {
    pub fn label(self) -> &'static str {
        match self {
            Field::To => "To",
            Field::Cc => "Cc",
            Field::Bcc => "Bcc",
        }
    }
}

/// A recipient chip: the address, and why it cannot be sent to, if it cannot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    pub address: Address,
    pub problem: Option<String>,
}

impl Recipient {
    fn new(address: Address) -> Self {
        let problem = address_problem(&address.email).map(str::to_owned);
        Recipient { address, problem }
    }
}

/// The compose form's content.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ComposeForm {
    /// The identity sent as (its address); `None`: the first.
    pub from: Option<String>,
    pub to: Vec<Recipient>,
    pub cc: Vec<Recipient>,
    pub bcc: Vec<Recipient>,
    /// What is typed in each recipient field and not yet a chip.
    pub typing: [String; 3],
    /// Whether the Cc and Bcc fields show.
    pub copies: bool,
    pub subject: String,
    pub text: String,
    pub no_wrap: bool,
    pub source: Option<DraftSource>,
    /// A send is under way.
    pub sending: bool,
    /// Why the last send failed.
    pub error: Option<String>,
}

impl ComposeForm {
    /// A reply or forward as the bridge started it, with the quote under an
    /// attribution line; `when` is the original's date as the viewer reads it.
    pub fn started(draft: Draft, quote: &Quote, when: Option<&str>) -> Self {
        let kind = draft.source.as_ref().map(|s| s.kind);
        let chips = |list: Vec<Address>| list.into_iter().map(Recipient::new).collect::<Vec<_>>();
        let copies = !draft.cc.is_empty() || !draft.bcc.is_empty();
        ComposeForm {
            from: draft.from,
            to: chips(draft.to),
            cc: chips(draft.cc),
            bcc: chips(draft.bcc),
            copies,
            subject: draft.subject,
            text: match kind {
                Some(ComposeKind::Forward) => forwarded(quote, when),
                _ => quoted(quote, when),
            },
            source: draft.source,
            ..ComposeForm::default()
        }
    }

    pub fn list(&self, field: Field) -> &Vec<Recipient> {
        match field {
            Field::To => &self.to,
            Field::Cc => &self.cc,
            Field::Bcc => &self.bcc,
        }
    }

    pub fn list_mut(&mut self, field: Field) -> &mut Vec<Recipient> {
        match field {
            Field::To => &mut self.to,
            Field::Cc => &mut self.cc,
            Field::Bcc => &mut self.bcc,
        }
    }

    fn index(field: Field) -> usize {
        match field {
            Field::To => 0,
            Field::Cc => 1,
            Field::Bcc => 2,
        }
    }

    pub fn typing(&self, field: Field) -> &str {
        &self.typing[Self::index(field)]
    }

    /// Takes what was typed into `field`: every complete address (followed by a
    /// comma or semicolon) becomes a chip; with `all`, the rest does too.
    pub fn typed(&mut self, field: Field, text: &str, all: bool) {
        let (complete, rest) = if all {
            (text, "")
        } else {
            match last_separator(text) {
                Some(at) => (&text[..at], &text[at + 1..]),
                None => ("", text),
            }
        };
        for address in parse_addresses(complete) {
            let list = self.list_mut(field);
            if !list
                .iter()
                .any(|r| r.address.email.eq_ignore_ascii_case(&address.email))
            {
                list.push(Recipient::new(address));
            }
        }
        self.typing[Self::index(field)] = rest.trim_start().to_owned();
    }

    /// Turns whatever is still typed in the recipient fields into chips.
    pub fn settle(&mut self) {
        for field in [Field::To, Field::Cc, Field::Bcc] {
            let text = self.typing(field).to_owned();
            self.typed(field, &text, true);
        }
    }

    /// Marks addresses the server refused.
    pub fn refused(&mut self, addresses: &[String]) {
        for list in [&mut self.to, &mut self.cc, &mut self.bcc] {
            for recipient in list.iter_mut() {
                if addresses
                    .iter()
                    .any(|a| a.eq_ignore_ascii_case(&recipient.address.email))
                {
                    recipient.problem = Some("the mail server refused it".to_owned());
                }
            }
        }
    }

    /// What stops sending: no recipient, or recipients that cannot be sent to.
    pub fn problems(&self) -> Vec<String> {
        let all = || self.to.iter().chain(&self.cc).chain(&self.bcc);
        let mut problems: Vec<String> = all()
            .filter_map(|r| {
                r.problem
                    .as_ref()
                    .map(|p| format!("{} is not a valid address: {p}.", r.address.email))
            })
            .collect();
        if all().next().is_none() {
            problems.push("Add at least one recipient.".to_owned());
        }
        problems
    }

    /// Whether there is anything a person would mind losing.
    pub fn is_blank(&self) -> bool {
        self.to.is_empty()
            && self.cc.is_empty()
            && self.bcc.is_empty()
            && self.typing.iter().all(|t| t.trim().is_empty())
            && self.subject.trim().is_empty()
            && self.text.trim().is_empty()
    }

    /// The draft to send.
    pub fn draft(&self) -> Draft {
        let addresses = |list: &[Recipient]| list.iter().map(|r| r.address.clone()).collect();
        Draft {
            from: self.from.clone(),
            to: addresses(&self.to),
            cc: addresses(&self.cc),
            bcc: addresses(&self.bcc),
            subject: self.subject.trim().to_owned(),
            text: self.text.clone(),
            no_wrap: self.no_wrap,
            source: self.source.clone(),
        }
    }
}

/// Where the last separator (comma or semicolon) outside quotes and angle brackets is.
fn last_separator(text: &str) -> Option<usize> {
    separators(text).last()
}

fn separators(text: &str) -> impl Iterator<Item = usize> + '_ {
    let mut quoted = false;
    let mut angle = false;
    text.char_indices().filter_map(move |(i, c)| {
        match c {
            '"' => quoted = !quoted,
            '<' if !quoted => angle = true,
            '>' if !quoted => angle = false,
            ',' | ';' if !quoted && !angle => return Some(i),
            _ => {}
        }
        None
    })
}

/// Addresses as people type and paste them: `bob@example.org`, `Bob <bob@…>`,
/// `"Smith, Bob" <bob@…>`, separated by commas, semicolons or line breaks.
pub fn parse_addresses(text: &str) -> Vec<Address> {
    let text = text.replace(['\r', '\n', '\t'], ",");
    let mut pieces = Vec::new();
    let mut start = 0;
    for at in separators(&text).collect::<Vec<_>>() {
        pieces.push(&text[start..at]);
        start = at + 1;
    }
    pieces.push(&text[start..]);
    pieces
        .into_iter()
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|piece| match (piece.rfind('<'), piece.ends_with('>')) {
            (Some(open), true) => {
                let name = piece[..open].trim().trim_matches('"').trim();
                Address {
                    name: (!name.is_empty()).then(|| name.to_owned()),
                    email: piece[open + 1..piece.len() - 1].trim().to_owned(),
                }
            }
            _ => Address {
                name: None,
                email: piece.trim_matches(['<', '>']).to_owned(),
            },
        })
        .collect()
}

fn author(quote: &Quote) -> String {
    quote
        .from
        .first()
        .map(|a| a.name.clone().unwrap_or_else(|| a.email.clone()))
        .unwrap_or_else(|| "someone".to_owned())
}

/// A reply's text: room to write on top, then the original quoted with `> ` under
/// "On <date>, <author> wrote:".
pub fn quoted(quote: &Quote, when: Option<&str>) -> String {
    let attribution = match when {
        Some(when) => format!("On {when}, {} wrote:", author(quote)),
        None => format!("{} wrote:", author(quote)),
    };
    let lines: Vec<String> = quote
        .text
        .trim_end()
        .lines()
        .map(|line| {
            if line.starts_with('>') {
                format!(">{line}")
            } else if line.is_empty() {
                ">".to_owned()
            } else {
                format!("> {line}")
            }
        })
        .collect();
    format!("\n\n{attribution}\n{}\n", lines.join("\n"))
}

/// A forward's text: room on top, then the original's headers and text.
pub fn forwarded(quote: &Quote, when: Option<&str>) -> String {
    let people = |list: &[Address]| {
        list.iter()
            .map(|a| match &a.name {
                Some(name) => format!("{name} <{}>", a.email),
                None => a.email.clone(),
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut head = vec![format!("From: {}", people(&quote.from))];
    if let Some(when) = when {
        head.push(format!("Date: {when}"));
    }
    head.push(format!("Subject: {}", quote.subject));
    if !quote.to.is_empty() {
        head.push(format!("To: {}", people(&quote.to)));
    }
    if !quote.cc.is_empty() {
        head.push(format!("Cc: {}", people(&quote.cc)));
    }
    format!(
        "\n\n---------- Forwarded message ----------\n{}\n\n{}\n",
        head.join("\n"),
        quote.text.trim_end()
    )
}

/// Whether the person's own words (not the quoted lines) speak of an attachment.
pub fn mentions_attachment(text: &str) -> bool {
    text.lines()
        .take_while(|line| !line.starts_with("---------- Forwarded message"))
        .filter(|line| !line.starts_with('>'))
        .any(|line| {
            let line = line.to_ascii_lowercase();
            ["attach", "enclosed", "anbei", "pièce jointe", "adjunto"]
                .iter()
                .any(|word| line.contains(word))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn address(name: Option<&str>, email: &str) -> Address {
        Address {
            name: name.map(str::to_owned),
            email: email.to_owned(),
        }
    }

    #[test]
    fn typed_and_pasted_addresses_become_chips() {
        assert_eq!(
            parse_addresses(
                "bob@example.org; \"Smith, Ann\" <ann@example.org>,Carl <carl@x.org>\ndan@y.org"
            ),
            vec![
                address(None, "bob@example.org"),
                address(Some("Smith, Ann"), "ann@example.org"),
                address(Some("Carl"), "carl@x.org"),
                address(None, "dan@y.org"),
            ]
        );
        let mut form = ComposeForm::default();
        form.typed(Field::To, "bob@example.org, ann@exa", false);
        assert_eq!(form.to.len(), 1);
        assert_eq!(form.typing(Field::To), "ann@exa");
        form.typed(Field::To, "BOB@example.org; not an address;", false);
        assert_eq!(form.to.len(), 2, "the same address is not added twice");
        assert_eq!(form.to[1].problem.as_deref(), Some("it has a space in it"));
        assert_eq!(form.problems().len(), 1);
        form.typed(Field::Cc, "carl@x.org", false);
        assert!(form.cc.is_empty());
        form.settle();
        assert_eq!(form.cc[0].address.email, "carl@x.org");
        form.refused(&["carl@x.org".into()]);
        assert!(form.cc[0].problem.is_some());
    }

    #[test]
    fn a_form_without_recipients_cannot_be_sent() {
        let form = ComposeForm::default();
        assert!(form.is_blank());
        assert_eq!(form.problems(), ["Add at least one recipient."]);
    }

    fn quote() -> Quote {
        Quote {
            from: vec![address(Some("Bob"), "bob@example.org")],
            to: vec![address(None, "alice@example.org")],
            cc: vec![],
            subject: "Plans".into(),
            date: Some(0),
            text: "Shall we?\n\n> earlier\n".into(),
        }
    }

    #[test]
    fn replies_quote_and_forwards_carry_the_headers() {
        assert_eq!(
            quoted(&quote(), Some("Tuesday 1 December 2026 at 09:30")),
            "\n\nOn Tuesday 1 December 2026 at 09:30, Bob wrote:\n> Shall we?\n>\n>> earlier\n"
        );
        let forward = forwarded(&quote(), Some("today"));
        assert!(forward.contains("From: Bob <bob@example.org>\nDate: today\nSubject: Plans\nTo: alice@example.org\n\nShall we?"));
        assert!(!mentions_attachment(&forward));
        assert!(mentions_attachment("Here is the file I attached.\n"));
        assert!(!mentions_attachment("> see the attachment\n"));
    }

    #[test]
    fn a_started_reply_shows_its_copies_and_keeps_its_source() {
        let draft = Draft {
            to: vec![address(None, "bob@example.org")],
            cc: vec![address(None, "carl@example.org")],
            subject: "Re: Plans".into(),
            source: Some(DraftSource {
                folder: "INBOX".into(),
                uid: 3,
                kind: ComposeKind::ReplyAll,
                uid_validity: None,
            }),
            ..Draft::default()
        };
        let form = ComposeForm::started(draft, &quote(), None);
        assert!(form.copies);
        assert!(form.text.contains("Bob wrote:"));
        let back = form.draft();
        assert_eq!(back.cc[0].email, "carl@example.org");
        assert_eq!(back.source.map(|s| s.uid), Some(3));
    }
}
