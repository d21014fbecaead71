//! The message being written, as the compose form holds it: recipients read from
//! what is typed or pasted, the text a reply or forward starts with, and what must
//! be settled before sending. Plain data and functions, unit-tested natively.

use protocol::{
    Address, ComposeKind, Draft, DraftAttachment, DraftSource, Identity, Quote, SavedDraft,
    Uploaded, address_problem, encoded_size,
};

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

/// A file in the form: uploading, ready to send, or failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileChip {
    /// Stable while the form is open, for the page to find it by.
    pub key: u32,
    pub name: String,
    pub size: u64,
    pub state: FileState,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileState {
    /// How many bytes have gone up so far.
    Uploading(u64),
    Ready(DraftAttachment),
    Failed(String),
}

/// Room the message's own headers and text part take, beyond the text.
const MESSAGE_OVERHEAD: u64 = 4096;

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
    /// "Formatting": the text is Markdown, sent as HTML too.
    pub formatted: bool,
    pub source: Option<DraftSource>,
    /// The files attached, in order.
    pub files: Vec<FileChip>,
    /// The key the next file gets.
    pub next_file: u32,
    /// The compose's Message-ID, from its first save.
    pub message_id: Option<String>,
    /// Its last saved version in the Drafts folder.
    pub saved: Option<SavedDraft>,
    /// Changes made since the form opened, and how many the last save took in.
    pub edits: u32,
    pub saved_edits: u32,
    /// A save is under way.
    pub saving: bool,
    /// What the last save said: "Draft saved", or why it was not.
    pub draft_note: Option<String>,
    /// The signature the form put in the text, which alone is nothing to lose.
    pub signature: String,
    /// A send is under way.
    pub sending: bool,
    /// A send failed after its undo window: the button says "Try again".
    pub not_sent: bool,
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
        let files: Vec<FileChip> = draft
            .attachments
            .into_iter()
            .zip(0..)
            .map(|(attachment, key)| FileChip {
                key,
                name: attachment.name.clone(),
                size: attachment.size,
                state: FileState::Ready(attachment),
            })
            .collect();
        ComposeForm {
            next_file: files.len() as u32,
            files,
            from: draft.from,
            to: chips(draft.to),
            cc: chips(draft.cc),
            bcc: chips(draft.bcc),
            copies,
            subject: draft.subject,
            text: match kind {
                Some(ComposeKind::Forward) => forwarded(quote, when),
                Some(ComposeKind::ForwardAsAttachment) => String::new(),
                _ => quoted(quote, when),
            },
            source: draft.source,
            ..ComposeForm::default()
        }
    }

    /// A draft from the Drafts folder, to go on writing.
    pub fn resumed(draft: Draft) -> Self {
        let text = draft.text.clone();
        let no_wrap = draft.no_wrap;
        let formatted = draft.formatted;
        let message_id = draft.message_id.clone();
        let saved = draft.saved.clone();
        let quote = Quote {
            from: Vec::new(),
            to: Vec::new(),
            cc: Vec::new(),
            subject: String::new(),
            date: None,
            text: String::new(),
        };
        ComposeForm {
            text,
            no_wrap,
            formatted,
            message_id,
            saved,
            ..ComposeForm::started(draft, &quote, None)
        }
    }

    /// Notes a change, for the next save to take in.
    pub fn touch(&mut self) {
        self.edits = self.edits.wrapping_add(1);
    }

    /// Whether something changed since the last save.
    pub fn unsaved(&self) -> bool {
        self.edits != self.saved_edits
    }

    pub fn uploading(&self) -> bool {
        self.files
            .iter()
            .any(|f| matches!(f.state, FileState::Uploading(_)))
    }

    /// A save that took in `edits` changes is done: where the draft is now, and
    /// its files as parts of it.
    pub fn draft_saved(
        &mut self,
        edits: u32,
        saved: Option<SavedDraft>,
        message_id: String,
        attachments: Vec<DraftAttachment>,
    ) {
        self.saving = false;
        self.saved_edits = edits;
        self.saved = saved;
        self.message_id = Some(message_id);
        self.draft_note = Some("Draft saved".to_owned());
        // The files sent with the save, in order, are those that were ready; a
        // file added or removed meanwhile leaves them as they are.
        let mut ready: Vec<&mut DraftAttachment> = self
            .files
            .iter_mut()
            .filter_map(|f| match &mut f.state {
                FileState::Ready(a) => Some(a),
                _ => None,
            })
            .collect();
        if ready.len() == attachments.len()
            && ready
                .iter()
                .zip(&attachments)
                .all(|(a, b)| a.name == b.name)
        {
            for (mine, kept) in ready.iter_mut().zip(attachments) {
                mine.saved_part = kept.saved_part;
            }
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

    /// What is being typed in `field` for the next address: the text after the
    /// last separator, for suggestions to match.
    pub fn next_address(&self, field: Field) -> &str {
        let text = self.typing(field);
        last_separator(text)
            .map_or(text, |at| &text[at + 1..])
            .trim()
    }

    /// Takes a suggested `address` for the one being typed in `field`; the
    /// complete addresses before it become chips too.
    pub fn pick(&mut self, field: Field, address: Address) {
        let text = self.typing(field).to_owned();
        let before = last_separator(&text).map_or("", |at| &text[..at]);
        self.typed(field, before, true);
        let list = self.list_mut(field);
        if !list
            .iter()
            .any(|r| r.address.email.eq_ignore_ascii_case(&address.email))
        {
            list.push(Recipient::new(address));
        }
    }

    /// The identity sent as: the one chosen, else the first.
    pub fn identity<'a>(&self, identities: &'a [Identity]) -> Option<&'a Identity> {
        self.from
            .as_deref()
            .and_then(|from| {
                identities
                    .iter()
                    .find(|i| i.email.eq_ignore_ascii_case(from))
            })
            .or(identities.first())
    }

    /// Adds the identity's signature to a form just opened: under the space to
    /// write in, above a reply's quote or a forward.
    pub fn sign(&mut self, identities: &[Identity]) {
        let block = signature_block(self.identity(identities));
        if !block.is_empty() {
            let at = quote_start(&self.text);
            self.text.insert_str(at, &block);
        }
        self.signature = block;
    }

    /// Sends as `email` from now on: its signature takes the place of the one
    /// before, unless the person changed or removed that one.
    pub fn switch_identity(&mut self, email: &str, identities: &[Identity]) {
        let old = signature_block(self.identity(identities));
        self.from = Some(email.to_owned());
        let new = signature_block(self.identity(identities));
        if old.is_empty() && !new.is_empty() {
            let at = quote_start(&self.text);
            let head = self.text[..at].trim_end().len();
            self.text.replace_range(head..at, &new);
        } else if let Some(at) = self.text.find(&old).filter(|_| !old.is_empty()) {
            self.text.replace_range(at..at + old.len(), &new);
        }
        self.signature = new;
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

    /// How large the message would be, encoded, as far as the form can tell.
    pub fn estimated_size(&self) -> u64 {
        let text = self.text.len() as u64;
        MESSAGE_OVERHEAD
            + text
            + text / 3
            + self.files.iter().map(|f| encoded_size(f.size)).sum::<u64>()
    }

    /// Adds a file about to be uploaded, unless it would take the message over
    /// `limit` bytes encoded (then: why, for people). Its key, to follow it by.
    pub fn add_file(&mut self, name: &str, size: u64, limit: u64) -> Result<u32, String> {
        let after = self.estimated_size() + encoded_size(size);
        if after > limit {
            let mb = |bytes: u64| bytes.div_ceil(1 << 20);
            return Err(if self.files.is_empty() {
                format!(
                    "{name} is {} MB, and messages may be at most {} MB once encoded. It was not attached.",
                    mb(size),
                    limit >> 20
                )
            } else {
                format!(
                    "{name} ({} MB) would take the message over the {} MB a message may be. It was not attached.",
                    mb(size),
                    limit >> 20
                )
            });
        }
        let key = self.next_file;
        self.next_file += 1;
        self.files.push(FileChip {
            key,
            name: name.to_owned(),
            size,
            state: FileState::Uploading(0),
        });
        Ok(key)
    }

    fn file_mut(&mut self, key: u32) -> Option<&mut FileChip> {
        self.files.iter_mut().find(|f| f.key == key)
    }

    pub fn upload_progress(&mut self, key: u32, sent: u64) {
        if let Some(file) = self.file_mut(key)
            && matches!(file.state, FileState::Uploading(_))
        {
            file.state = FileState::Uploading(sent);
        }
    }

    /// The bridge has the file whole.
    pub fn uploaded(&mut self, key: u32, uploaded: Uploaded) {
        self.touch();
        if let Some(file) = self.file_mut(key) {
            file.name.clone_from(&uploaded.name);
            file.size = uploaded.size;
            file.state = FileState::Ready(uploaded.into());
        }
    }

    pub fn upload_failed(&mut self, key: u32, reason: String) {
        if let Some(file) = self.file_mut(key) {
            file.state = FileState::Failed(reason);
        }
    }

    /// Takes a file out; the id of its upload, for the bridge to let go of.
    pub fn remove_file(&mut self, key: u32) -> Option<String> {
        let at = self.files.iter().position(|f| f.key == key)?;
        self.touch();
        match self.files.remove(at).state {
            FileState::Ready(attachment) => attachment.upload,
            _ => None,
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
        for file in &self.files {
            match file.state {
                FileState::Uploading(_) => {
                    problems.push(format!("{} is still uploading.", file.name));
                }
                FileState::Failed(_) => {
                    problems.push(format!(
                        "{} did not upload: remove it or attach it again.",
                        file.name
                    ));
                }
                FileState::Ready(_) => {}
            }
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
            && self.text.trim() == self.signature.trim()
            && self.files.is_empty()
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
            formatted: self.formatted,
            source: self.source.clone(),
            attachments: self
                .files
                .iter()
                .filter_map(|f| match &f.state {
                    FileState::Ready(attachment) => Some(attachment.clone()),
                    _ => None,
                })
                .collect(),
            message_id: self.message_id.clone(),
            saved: self.saved.clone(),
        }
    }
}

/// A formatting action on the selected text, in Markdown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Bold,
    Italic,
    List,
    Quote,
    Link,
}

impl Format {
    pub const ALL: [Format; 5] = [
        Format::Bold,
        Format::Italic,
        Format::List,
        Format::Quote,
        Format::Link,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Format::Bold => "Bold",
            Format::Italic => "Italic",
            Format::List => "Bulleted list",
            Format::Quote => "Quote",
            Format::Link => "Link",
        }
    }

    /// What the button shows (the link has an icon instead).
    pub fn mark(self) -> &'static str {
        match self {
            Format::Bold => "B",
            Format::Italic => "I",
            Format::List => "•",
            Format::Quote => "❝",
            Format::Link => "",
        }
    }
}

/// Byte index of UTF-16 offset `at` in `text` (a text field counts in UTF-16).
fn byte_at(text: &str, at: u32) -> usize {
    let mut units = 0u32;
    for (i, c) in text.char_indices() {
        if units >= at {
            return i;
        }
        units += c.len_utf16() as u32;
    }
    text.len()
}

fn utf16_len(text: &str) -> u32 {
    text.encode_utf16().count() as u32
}

/// Applies `format` to the selection `start..end` (UTF-16 offsets, as a text
/// field gives them): the new text and the new selection.
pub fn apply_format(text: &str, start: u32, end: u32, format: Format) -> (String, u32, u32) {
    let (a, b) = (byte_at(text, start.min(end)), byte_at(text, start.max(end)));
    let (before, selected, after) = (&text[..a], &text[a..b], &text[b..]);
    let wrap = |open: &str, close: &str, placeholder: &str| {
        let inner = if selected.is_empty() {
            placeholder
        } else {
            selected
        };
        let new = format!("{before}{open}{inner}{close}{after}");
        let from = utf16_len(before) + utf16_len(open);
        (new, from, from + utf16_len(inner))
    };
    match format {
        Format::Bold => wrap("**", "**", "bold text"),
        Format::Italic => wrap("_", "_", "italic text"),
        Format::Link => {
            let label = if selected.is_empty() {
                "link text"
            } else {
                selected
            };
            let new = format!("{before}[{label}](https://){after}");
            let from = utf16_len(before) + utf16_len(label) + 3;
            (new, from, from + 8)
        }
        Format::List | Format::Quote => {
            let prefix = if format == Format::List { "- " } else { "> " };
            // Whole lines: from the start of the first selected line.
            let line_start = before.rfind('\n').map_or(0, |i| i + 1);
            let line_end = after.find('\n').map_or(text.len(), |i| b + i);
            let (head, lines, after) = (
                &text[..line_start],
                &text[line_start..line_end],
                &text[line_end..],
            );
            let prefixed: Vec<String> = lines
                .split('\n')
                .map(|line| format!("{prefix}{line}"))
                .collect();
            let prefixed = prefixed.join("\n");
            let new = format!("{head}{prefixed}{after}");
            let from = utf16_len(head);
            (new, from, from + utf16_len(&prefixed))
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

/// What a signature adds to the text: a blank line, the `-- ` line that mail
/// programs know to leave out of replies, and the signature; nothing without one.
pub fn signature_block(identity: Option<&Identity>) -> String {
    match identity.and_then(|i| i.signature.as_deref()) {
        None => String::new(),
        Some(signature) if signature.starts_with("-- \n") || signature.starts_with("--\n") => {
            format!("\n\n{signature}")
        }
        Some(signature) => format!("\n\n-- \n{signature}"),
    }
}

/// Where a reply's quote (with the line that introduces it) or a forwarded
/// message begins in `text`; its end when there is neither.
fn quote_start(text: &str) -> usize {
    let mut previous: Option<(usize, &str)> = None;
    let mut at = 0;
    for line in text.split_inclusive('\n') {
        let bare = line.trim_end_matches(['\n', '\r']);
        if bare.starts_with("---------- Forwarded message") {
            return trim_blank(text, at);
        }
        if bare.starts_with('>') {
            return match previous {
                Some((start, before)) if before.ends_with("wrote:") => trim_blank(text, start),
                _ => trim_blank(text, at),
            };
        }
        previous = Some((at, bare));
        at += line.len();
    }
    text.len()
}

/// `at`, moved back over the blank lines before it.
fn trim_blank(text: &str, at: usize) -> usize {
    text[..at].trim_end_matches(['\n', '\r']).len()
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

    fn signed(email: &str, signature: Option<&str>) -> Identity {
        Identity {
            name: None,
            email: email.to_owned(),
            signature: signature.map(str::to_owned),
        }
    }

    #[test]
    fn the_signature_goes_under_new_text_and_above_a_quote() {
        let identities = [
            signed("alice@example.org", Some("Alice\nWonderland Ltd")),
            signed("alice@work.example", Some("-- \nA. Liddell")),
            signed("alice@plain.example", None),
        ];
        let mut new = ComposeForm::default();
        new.sign(&identities);
        assert_eq!(new.text, "\n\n-- \nAlice\nWonderland Ltd");
        assert!(new.is_blank(), "a signature alone is nothing to lose");
        new.text.insert(0, 'H');
        assert!(!new.is_blank());

        let quote = Quote {
            from: vec![address(Some("Bob"), "bob@example.org")],
            to: Vec::new(),
            cc: Vec::new(),
            subject: "Hi".into(),
            date: None,
            text: "Lunch?\n".into(),
        };
        let draft = Draft {
            from: Some("alice@work.example".into()),
            ..Draft::default()
        };
        let mut reply = ComposeForm::started(draft, &quote, Some("Monday"));
        reply.sign(&identities);
        assert_eq!(
            reply.text,
            "\n\n-- \nA. Liddell\n\nOn Monday, Bob wrote:\n> Lunch?\n"
        );

        // Switching swaps one signature for the other, where the person typed.
        reply.text.insert_str(0, "Yes!");
        reply.switch_identity("ALICE@example.org", &identities);
        assert_eq!(
            reply.text,
            "Yes!\n\n-- \nAlice\nWonderland Ltd\n\nOn Monday, Bob wrote:\n> Lunch?\n"
        );
        reply.switch_identity("alice@plain.example", &identities);
        assert_eq!(reply.text, "Yes!\n\nOn Monday, Bob wrote:\n> Lunch?\n");
        assert_eq!(reply.from.as_deref(), Some("alice@plain.example"));
        reply.switch_identity("alice@work.example", &identities);
        assert_eq!(
            reply.text,
            "Yes!\n\n-- \nA. Liddell\n\nOn Monday, Bob wrote:\n> Lunch?\n"
        );

        // A signature the person edited stays as they left it.
        let mut edited = ComposeForm::default();
        edited.sign(&identities);
        edited.text = "Hi\n\n-- \nAlice (on holiday)".into();
        edited.switch_identity("alice@work.example", &identities);
        assert_eq!(edited.text, "Hi\n\n-- \nAlice (on holiday)");

        // From none to one on a new message: at the end of what is written.
        let mut plain = ComposeForm {
            from: Some("alice@plain.example".into()),
            text: "Hello\n\n".into(),
            ..ComposeForm::default()
        };
        plain.sign(&identities);
        assert_eq!(plain.text, "Hello\n\n");
        plain.switch_identity("alice@work.example", &identities);
        assert_eq!(plain.text, "Hello\n\n-- \nA. Liddell");
    }

    #[test]
    fn a_picked_suggestion_takes_the_place_of_what_was_typed() {
        let mut form = ComposeForm::default();
        form.typed(Field::To, "carol@example.org; bo", false);
        assert_eq!(form.next_address(Field::To), "bo");
        assert_eq!(form.list(Field::To).len(), 1);
        form.typed(Field::To, "carol@example.org, dave@example.org, bo", false);
        form.pick(Field::To, address(Some("Bob"), "bob@example.org"));
        let emails: Vec<_> = form.to.iter().map(|r| r.address.email.as_str()).collect();
        assert_eq!(
            emails,
            ["carol@example.org", "dave@example.org", "bob@example.org"]
        );
        assert_eq!(form.typing(Field::To), "");
        // Picking someone already there adds nobody.
        form.typed(Field::To, "bo", false);
        form.pick(Field::To, address(None, "BOB@example.org"));
        assert_eq!(form.to.len(), 3);
    }

    fn address(name: Option<&str>, email: &str) -> Address {
        Address {
            name: name.map(str::to_owned),
            email: email.to_owned(),
        }
    }

    #[test]
    fn formatting_wraps_the_selection_or_prefixes_its_lines() {
        assert_eq!(
            apply_format("say hi now", 4, 6, Format::Bold),
            ("say **hi** now".into(), 6, 8)
        );
        assert_eq!(
            apply_format("", 0, 0, Format::Italic),
            ("_italic text_".into(), 1, 12)
        );
        assert_eq!(
            apply_format("Grüße 😀 x", 9, 10, Format::Bold),
            ("Grüße 😀 **x**".into(), 11, 12),
            "offsets count UTF-16 units"
        );
        assert_eq!(
            apply_format("a\nb\nc", 2, 5, Format::List),
            ("a\n- b\n- c".into(), 2, 9)
        );
        assert_eq!(
            apply_format("one", 1, 1, Format::Quote),
            ("> one".into(), 0, 5)
        );
        assert_eq!(
            apply_format("see docs", 4, 8, Format::Link),
            ("see [docs](https://)".into(), 11, 19)
        );
    }

    #[test]
    fn files_are_held_to_the_limit_before_upload_and_sent_once_ready() {
        let mut form = ComposeForm::default();
        let limit = 10 << 20;
        let error = form
            .add_file("big.iso", 8 << 20, limit)
            .expect_err("over, encoded");
        assert!(
            error.contains("big.iso is 8 MB") && error.contains("10 MB"),
            "{error}"
        );
        let first = form.add_file("a.pdf", 3 << 20, limit).expect("fits");
        let error = form
            .add_file("b.pdf", 5 << 20, limit)
            .expect_err("not beside it");
        assert!(error.contains("would take the message over"), "{error}");
        assert!(!form.is_blank());
        form.upload_progress(first, 1000);
        assert_eq!(form.files[0].state, FileState::Uploading(1000));
        assert_eq!(
            form.problems().last().map(String::as_str),
            Some("a.pdf is still uploading.")
        );
        form.uploaded(
            first,
            Uploaded {
                id: "u1".into(),
                name: "a.pdf".into(),
                content_type: "application/pdf".into(),
                size: 3 << 20,
            },
        );
        form.to
            .push(Recipient::new(address(None, "bob@example.org")));
        assert!(form.problems().is_empty());
        assert_eq!(form.draft().attachments[0].upload.as_deref(), Some("u1"));
        let second = form.add_file("c.txt", 10, limit).expect("fits");
        form.upload_failed(second, "cut".into());
        assert_eq!(form.problems().len(), 1);
        assert_eq!(
            form.draft().attachments.len(),
            1,
            "only ready files are sent"
        );
        assert_eq!(form.remove_file(second), None);
        assert_eq!(form.remove_file(first).as_deref(), Some("u1"));
        assert!(form.draft().attachments.is_empty());
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
