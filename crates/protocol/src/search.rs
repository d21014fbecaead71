//! The search query language, shared by the app (to show a query as chips and check
//! it while it is typed) and the bridge (to turn it into the server's search).
//!
//! It is the one people know from Gmail and Fastmail:
//! - free words and `"quoted phrases"` match the sender, the recipients, the
//!   subject or the body;
//! - `from:`, `to:`, `cc:`, `subject:` and `body:` match one of them
//!   (`from:"Bob Smith"` for a value with spaces);
//! - `has:attachment`, `is:unread`, `is:read`, `is:flagged`;
//! - `before:YYYY-MM-DD` (sent before that day) and `after:YYYY-MM-DD` (sent on
//!   that day or later);
//! - `larger:5M` and `smaller:100K` (sizes in bytes, or with K, M or G);
//! - `in:<folder>` searches that folder, `in:all` every folder but Trash and Junk,
//!   `in:anywhere` every folder; without `in:`, the folder in view;
//! - `-` before any term but `in:` negates it.
//!
//! Terms all have to hold. Anything else (an unknown field, an unclosed quote, a
//! bad date) is a [`QueryError`] with a sentence for people, never a different
//! search than the one typed.

use std::fmt;

/// The longest query accepted, in characters.
pub const MAX_QUERY_CHARS: usize = 1000;

/// The most terms one query may have.
pub const MAX_TERMS: usize = 32;

/// A parsed query: terms that must all hold, and where to look.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    pub terms: Vec<Term>,
    pub scope: Scope,
}

/// Where a query looks.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Scope {
    /// The folder in view.
    #[default]
    Current,
    /// One folder, as typed after `in:` (its name or its path).
    Folder(String),
    /// Every folder but Trash and Junk (`in:all`).
    All,
    /// Every folder (`in:anywhere`).
    Anywhere,
}

/// One condition, or its negation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    pub negated: bool,
    pub test: Test,
}

/// What one term tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Test {
    /// A free word or phrase: in the sender, recipients, subject or body.
    Text(String),
    From(String),
    To(String),
    Cc(String),
    Subject(String),
    Body(String),
    HasAttachment,
    Unread,
    Read,
    Flagged,
    /// Sent before this day.
    Before(Day),
    /// Sent on this day or later.
    After(Day),
    /// Larger than this many bytes.
    Larger(u64),
    /// Smaller than this many bytes.
    Smaller(u64),
}

/// A calendar day, checked to exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Day {
    pub year: u16,
    pub month: u8,
    pub day: u8,
}

/// Why a query cannot be searched, in words for people (its `Display`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueryError {
    Empty,
    TooLong,
    TooManyTerms,
    /// A `"` with no closing one.
    UnclosedQuote,
    /// `name:` that is not a field of the language.
    UnknownField(String),
    /// `field:` with nothing after it.
    MissingValue(String),
    /// `is:` or `has:` with a value the language does not know.
    UnknownValue {
        field: String,
        value: String,
    },
    BadDate {
        field: String,
        value: String,
    },
    BadSize {
        field: String,
        value: String,
    },
    /// `in:` twice, or negated.
    BadScope,
}

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QueryError::Empty => write!(f, "Type something to search for."),
            QueryError::TooLong => write!(
                f,
                "A search can be at most {MAX_QUERY_CHARS} characters long."
            ),
            QueryError::TooManyTerms => {
                write!(f, "A search can have at most {MAX_TERMS} terms.")
            }
            QueryError::UnclosedQuote => {
                write!(f, "A quotation mark is not closed: add the closing \".")
            }
            QueryError::UnknownField(field) => write!(
                f,
                "\"{field}:\" is not something to search by. Use from:, to:, cc:, subject:, body:, has:, is:, before:, after:, larger:, smaller: or in:, or put the words in quotes."
            ),
            QueryError::MissingValue(field) => {
                write!(f, "\"{field}:\" needs something after it.")
            }
            QueryError::UnknownValue { field, value } if field == "is" => write!(
                f,
                "\"is:{value}\" is not known: use is:unread, is:read or is:flagged."
            ),
            QueryError::UnknownValue { field, value } => {
                write!(f, "\"{field}:{value}\" is not known: use has:attachment.")
            }
            QueryError::BadDate { field, value } => write!(
                f,
                "\"{field}:{value}\" is not a date: write it as YYYY-MM-DD, say {field}:2026-03-31."
            ),
            QueryError::BadSize { field, value } => write!(
                f,
                "\"{field}:{value}\" is not a size: write a number of bytes, or one with K, M or G, say {field}:5M."
            ),
            QueryError::BadScope => write!(
                f,
                "Name one folder with in:, or in:all, and without a minus sign."
            ),
        }
    }
}

impl std::error::Error for QueryError {}

/// Parses what a person typed into the search field.
pub fn parse(text: &str) -> Result<Query, QueryError> {
    if text.chars().count() > MAX_QUERY_CHARS {
        return Err(QueryError::TooLong);
    }
    let mut terms = Vec::new();
    let mut scope = None;
    for token in tokens(text)? {
        let (negated, field, value) = (token.negated, token.field, token.value);
        let Some(field) = field else {
            push(
                &mut terms,
                Term {
                    negated,
                    test: Test::Text(value),
                },
            )?;
            continue;
        };
        let lower = field.to_ascii_lowercase();
        if value.is_empty() {
            return Err(if known_field(&lower) {
                QueryError::MissingValue(field)
            } else {
                QueryError::UnknownField(field)
            });
        }
        let test = match lower.as_str() {
            "from" => Test::From(value),
            "to" => Test::To(value),
            "cc" => Test::Cc(value),
            "subject" => Test::Subject(value),
            "body" => Test::Body(value),
            "has" => match value.to_ascii_lowercase().as_str() {
                "attachment" | "attachments" => Test::HasAttachment,
                _ => return Err(QueryError::UnknownValue { field, value }),
            },
            "is" => match value.to_ascii_lowercase().as_str() {
                "unread" => Test::Unread,
                "read" => Test::Read,
                "flagged" | "starred" => Test::Flagged,
                _ => return Err(QueryError::UnknownValue { field, value }),
            },
            "before" | "after" => {
                let Some(day) = day(&value) else {
                    return Err(QueryError::BadDate { field, value });
                };
                if lower == "before" {
                    Test::Before(day)
                } else {
                    Test::After(day)
                }
            }
            "larger" | "smaller" => {
                let Some(bytes) = size(&value) else {
                    return Err(QueryError::BadSize { field, value });
                };
                if lower == "larger" {
                    Test::Larger(bytes)
                } else {
                    Test::Smaller(bytes)
                }
            }
            "in" => {
                if negated || scope.is_some() {
                    return Err(QueryError::BadScope);
                }
                scope = Some(match value.to_ascii_lowercase().as_str() {
                    "all" => Scope::All,
                    "anywhere" => Scope::Anywhere,
                    _ => Scope::Folder(value),
                });
                continue;
            }
            _ => return Err(QueryError::UnknownField(field)),
        };
        push(&mut terms, Term { negated, test })?;
    }
    if terms.is_empty() && scope.is_none() {
        return Err(QueryError::Empty);
    }
    Ok(Query {
        terms,
        scope: scope.unwrap_or_default(),
    })
}

fn push(terms: &mut Vec<Term>, term: Term) -> Result<(), QueryError> {
    if terms.len() == MAX_TERMS {
        return Err(QueryError::TooManyTerms);
    }
    terms.push(term);
    Ok(())
}

fn known_field(field: &str) -> bool {
    matches!(
        field,
        "from"
            | "to"
            | "cc"
            | "subject"
            | "body"
            | "has"
            | "is"
            | "before"
            | "after"
            | "larger"
            | "smaller"
            | "in"
    )
}

/// One piece of the query as typed.
struct Token {
    negated: bool,
    field: Option<String>,
    value: String,
}

/// Splits the text at white space outside quotes. A field is a run of ASCII
/// letters before a colon at the start of a piece; a quoted part is taken
/// whole. Control characters count as white space, so no value holds one.
fn tokens(text: &str) -> Result<Vec<Token>, QueryError> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    let space = |c: char| c.is_whitespace() || c.is_control();
    loop {
        while chars.next_if(|c| space(*c)).is_some() {}
        if chars.peek().is_none() {
            return Ok(out);
        }
        // A minus typed before anything else negates, unless it stands alone.
        let mut negated = chars.next_if_eq(&'-').is_some();
        if negated && chars.peek().is_none_or(|c| space(*c)) {
            negated = false;
            out.push(Token {
                negated,
                field: None,
                value: "-".to_owned(),
            });
            continue;
        }
        let mut raw = String::new();
        let mut quoted = false;
        let mut field_end = None;
        while let Some(c) = chars.next() {
            if c == '"' {
                quoted = true;
                let mut closed = false;
                for c in chars.by_ref() {
                    if c == '"' {
                        closed = true;
                        break;
                    }
                    raw.push(if c.is_control() { ' ' } else { c });
                }
                if !closed {
                    return Err(QueryError::UnclosedQuote);
                }
                continue;
            }
            if space(c) {
                break;
            }
            if c == ':'
                && field_end.is_none()
                && !quoted
                && !raw.is_empty()
                && raw.chars().all(|c| c.is_ascii_alphabetic())
            {
                field_end = Some(raw.len());
            }
            raw.push(c);
        }
        let token = match field_end {
            Some(end) => Token {
                negated,
                field: Some(raw[..end].to_owned()),
                value: raw[end + 1..].trim().to_owned(),
            },
            None => Token {
                negated,
                field: None,
                value: raw,
            },
        };
        if token.field.is_none() && token.value.trim().is_empty() {
            continue;
        }
        out.push(token);
    }
}

/// `YYYY-MM-DD` (or with slashes), a day that exists.
fn day(text: &str) -> Option<Day> {
    let mut parts = text.split(['-', '/']);
    let (year, month, day) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some()
        || year.len() != 4
        || !(1..=2).contains(&month.len())
        || !(1..=2).contains(&day.len())
    {
        return None;
    }
    let number = |s: &str| {
        s.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| s.parse::<u16>().ok())?
    };
    let (year, month, day) = (
        number(year)?,
        u8::try_from(number(month)?).ok()?,
        u8::try_from(number(day)?).ok()?,
    );
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    (year >= 1900 && (1..=days).contains(&day)).then_some(Day { year, month, day })
}

/// A number of bytes, or one with K, M or G (powers of 1024).
fn size(text: &str) -> Option<u64> {
    let upper = text.to_ascii_uppercase();
    let upper = upper.strip_suffix('B').unwrap_or(&upper);
    let (digits, unit) = match upper.char_indices().last()? {
        (at, 'K') => (&upper[..at], 1u64 << 10),
        (at, 'M') => (&upper[..at], 1 << 20),
        (at, 'G') => (&upper[..at], 1 << 30),
        _ => (upper, 1),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse::<u64>().ok()?.checked_mul(unit)
}

impl fmt::Display for Day {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

impl Day {
    /// The day as IMAP writes it (`1-Feb-2026`).
    pub fn imap(&self) -> String {
        const MONTHS: [&str; 12] = [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ];
        let month = MONTHS[usize::from(self.month.clamp(1, 12) - 1)];
        format!("{}-{month}-{}", self.day, self.year)
    }

    /// Seconds since 1970 at the start of this day, UTC.
    pub fn timestamp(&self) -> i64 {
        // Days from civil, after Howard Hinnant's algorithm.
        let (y, m, d) = (
            i64::from(self.year),
            i64::from(self.month),
            i64::from(self.day),
        );
        let y = if m <= 2 { y - 1 } else { y };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let mp = (m + 9) % 12;
        let doy = (153 * mp + 2) / 5 + d - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        (era * 146_097 + doe - 719_468) * 86_400
    }
}

/// A value as it would be typed back: bare when it is one word, else quoted.
fn typed(value: &str) -> String {
    if !value.is_empty()
        && !value
            .chars()
            .any(|c| c.is_whitespace() || c == '"' || c == ':')
        && !value.starts_with('-')
    {
        value.to_owned()
    } else {
        format!("\"{}\"", value.replace('"', ""))
    }
}

/// The term as it would be typed, e.g. `-from:bob` or `"annual report"`: what the
/// app shows on a chip.
impl fmt::Display for Term {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.negated {
            write!(f, "-")?;
        }
        match &self.test {
            Test::Text(v) => write!(f, "{}", typed(v)),
            Test::From(v) => write!(f, "from:{}", typed(v)),
            Test::To(v) => write!(f, "to:{}", typed(v)),
            Test::Cc(v) => write!(f, "cc:{}", typed(v)),
            Test::Subject(v) => write!(f, "subject:{}", typed(v)),
            Test::Body(v) => write!(f, "body:{}", typed(v)),
            Test::HasAttachment => write!(f, "has:attachment"),
            Test::Unread => write!(f, "is:unread"),
            Test::Read => write!(f, "is:read"),
            Test::Flagged => write!(f, "is:flagged"),
            Test::Before(d) => write!(f, "before:{d}"),
            Test::After(d) => write!(f, "after:{d}"),
            Test::Larger(n) => write!(f, "larger:{}", bytes(*n)),
            Test::Smaller(n) => write!(f, "smaller:{}", bytes(*n)),
        }
    }
}

fn bytes(n: u64) -> String {
    for (unit, shift) in [("G", 30), ("M", 20), ("K", 10)] {
        if n != 0 && n.is_multiple_of(1 << shift) {
            return format!("{}{unit}", n >> shift);
        }
    }
    n.to_string()
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scope::Current => Ok(()),
            Scope::Folder(folder) => write!(f, "in:{}", typed(folder)),
            Scope::All => write!(f, "in:all"),
            Scope::Anywhere => write!(f, "in:anywhere"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn terms(text: &str) -> Vec<Term> {
        parse(text).expect("parses").terms
    }

    fn yes(test: Test) -> Term {
        Term {
            negated: false,
            test,
        }
    }

    fn not(test: Test) -> Term {
        Term {
            negated: true,
            test,
        }
    }

    fn day(year: u16, month: u8, day: u8) -> Day {
        Day { year, month, day }
    }

    #[test]
    fn free_words_and_phrases() {
        assert_eq!(
            terms("invoice  \"annual report\" Grüße"),
            vec![
                yes(Test::Text("invoice".into())),
                yes(Test::Text("annual report".into())),
                yes(Test::Text("Grüße".into())),
            ]
        );
        assert_eq!(terms("10:30"), vec![yes(Test::Text("10:30".into()))]);
        assert_eq!(
            terms("\"re: lunch\""),
            vec![yes(Test::Text("re: lunch".into()))]
        );
        assert_eq!(terms("-"), vec![yes(Test::Text("-".into()))]);
    }

    #[test]
    fn every_field() {
        assert_eq!(
            terms("from:bob TO:carol@example.org cc:dave subject:\"Q3 plans\" body:budget"),
            vec![
                yes(Test::From("bob".into())),
                yes(Test::To("carol@example.org".into())),
                yes(Test::Cc("dave".into())),
                yes(Test::Subject("Q3 plans".into())),
                yes(Test::Body("budget".into())),
            ]
        );
        assert_eq!(
            terms("has:attachment is:unread is:read is:flagged is:starred"),
            vec![
                yes(Test::HasAttachment),
                yes(Test::Unread),
                yes(Test::Read),
                yes(Test::Flagged),
                yes(Test::Flagged),
            ]
        );
        assert_eq!(
            terms("before:2026-03-01 after:2024/2/29"),
            vec![
                yes(Test::Before(day(2026, 3, 1))),
                yes(Test::After(day(2024, 2, 29))),
            ]
        );
        assert_eq!(
            terms("larger:5M smaller:100k larger:12 larger:1GB"),
            vec![
                yes(Test::Larger(5 << 20)),
                yes(Test::Smaller(100 << 10)),
                yes(Test::Larger(12)),
                yes(Test::Larger(1 << 30)),
            ]
        );
    }

    #[test]
    fn negation() {
        assert_eq!(
            terms("-from:bob -is:read -lunch -\"team lunch\""),
            vec![
                not(Test::From("bob".into())),
                not(Test::Read),
                not(Test::Text("lunch".into())),
                not(Test::Text("team lunch".into())),
            ]
        );
    }

    #[test]
    fn scopes() {
        assert_eq!(parse("lunch").expect("parses").scope, Scope::Current);
        assert_eq!(parse("lunch in:all").expect("parses").scope, Scope::All);
        assert_eq!(
            parse("in:Anywhere lunch").expect("parses").scope,
            Scope::Anywhere
        );
        assert_eq!(
            parse("in:\"Work/Reports 2027\"").expect("parses"),
            Query {
                terms: vec![],
                scope: Scope::Folder("Work/Reports 2027".into()),
            }
        );
        assert_eq!(parse("-in:all lunch"), Err(QueryError::BadScope));
        assert_eq!(parse("in:all in:INBOX"), Err(QueryError::BadScope));
    }

    #[test]
    fn malformed_input_says_why() {
        assert_eq!(parse(""), Err(QueryError::Empty));
        assert_eq!(parse("  \t "), Err(QueryError::Empty));
        assert_eq!(parse("\"annual report"), Err(QueryError::UnclosedQuote));
        assert_eq!(
            parse("form:bob"),
            Err(QueryError::UnknownField("form".into()))
        );
        assert_eq!(parse("from:"), Err(QueryError::MissingValue("from".into())));
        assert_eq!(
            parse("from:\"\""),
            Err(QueryError::MissingValue("from".into()))
        );
        assert!(matches!(
            parse("is:urgent"),
            Err(QueryError::UnknownValue { .. })
        ));
        assert!(matches!(
            parse("has:pdf"),
            Err(QueryError::UnknownValue { .. })
        ));
        for bad in [
            "before:2026-02-30",
            "before:2025-02-29",
            "after:26-01-01",
            "after:yesterday",
            "before:2026-13-01",
            "before:2026-1-1-1",
            "after:2026-00-10",
        ] {
            assert!(
                matches!(parse(bad), Err(QueryError::BadDate { .. })),
                "{bad}"
            );
        }
        for bad in [
            "larger:5X",
            "larger:M",
            "smaller:-3",
            "larger:99999999999999999999",
        ] {
            assert!(
                matches!(parse(bad), Err(QueryError::BadSize { .. })),
                "{bad}"
            );
        }
        let many = "word ".repeat(MAX_TERMS + 1);
        assert_eq!(parse(&many), Err(QueryError::TooManyTerms));
        let long = "a".repeat(MAX_QUERY_CHARS + 1);
        assert_eq!(parse(&long), Err(QueryError::TooLong));
        // Every error reads as a sentence.
        for error in [
            QueryError::UnclosedQuote,
            QueryError::UnknownField("form".into()),
            QueryError::BadDate {
                field: "before".into(),
                value: "x".into(),
            },
        ] {
            assert!(error.to_string().ends_with('.'));
        }
    }

    #[test]
    fn control_characters_are_white_space() {
        assert_eq!(
            terms("a\r\nb \"c\r\nd\" from:x\0y"),
            vec![
                yes(Test::Text("a".into())),
                yes(Test::Text("b".into())),
                yes(Test::Text("c  d".into())),
                yes(Test::From("x".into())),
                yes(Test::Text("y".into())),
            ]
        );
    }

    #[test]
    fn terms_show_as_typed() {
        let query =
            parse("-from:\"Bob Smith\" is:unread larger:5m \"annual report\" x").expect("parses");
        let shown: Vec<String> = query.terms.iter().map(Term::to_string).collect();
        assert_eq!(
            shown,
            [
                "-from:\"Bob Smith\"",
                "is:unread",
                "larger:5M",
                "\"annual report\"",
                "x"
            ]
        );
        for term in &query.terms {
            assert_eq!(terms(&term.to_string()), vec![term.clone()]);
        }
    }

    #[test]
    fn days_in_imap_and_seconds() {
        assert_eq!(day(2026, 2, 1).imap(), "1-Feb-2026");
        assert_eq!(day(1970, 1, 1).timestamp(), 0);
        assert_eq!(day(2024, 3, 1).timestamp(), 1_709_251_200);
    }
}
