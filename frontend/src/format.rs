//! How values read on screen: senders, dates and sizes. Pure functions, so that they
//! are tested natively; the browser supplies the clock and time zone.

use protocol::Address;

/// The sender (or recipients) as a short label: names when known, else addresses.
pub fn people(addresses: &[Address]) -> String {
    let names: Vec<&str> = addresses
        .iter()
        .map(|a| {
            a.name
                .as_deref()
                .filter(|n| !n.is_empty())
                .unwrap_or(&a.email)
        })
        .filter(|n| !n.is_empty())
        .collect();
    match names.as_slice() {
        [] => "(unknown sender)".to_owned(),
        [one] => (*one).to_owned(),
        [first, rest @ ..] => format!("{first} +{}", rest.len()),
    }
}

/// How a message date is shown, relative to now, both in the viewer's local time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateStyle {
    /// Today: just the time.
    Time,
    /// This year: day and month.
    DayMonth,
    /// Earlier: the full date.
    Full,
}

/// Chooses the style from local (year, month, day) triples.
pub fn date_style(now: (i32, u32, u32), date: (i32, u32, u32)) -> DateStyle {
    if now == date {
        DateStyle::Time
    } else if now.0 == date.0 {
        DateStyle::DayMonth
    } else {
        DateStyle::Full
    }
}

/// A size in bytes, as people read it.
pub fn size(bytes: u32) -> String {
    const KB: f64 = 1024.0;
    let b = f64::from(bytes);
    if b < KB {
        format!("{bytes} B")
    } else if b < KB * KB {
        format!("{:.0} KB", b / KB)
    } else {
        format!("{:.1} MB", b / KB / KB)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(name: Option<&str>, email: &str) -> Address {
        Address {
            name: name.map(str::to_owned),
            email: email.into(),
        }
    }

    #[test]
    fn people_prefer_names_and_count_the_rest() {
        assert_eq!(people(&[addr(Some("Zoë"), "z@x")]), "Zoë");
        assert_eq!(
            people(&[addr(None, "z@x"), addr(Some("B"), "b@x")]),
            "z@x +1"
        );
        assert_eq!(people(&[]), "(unknown sender)");
    }

    #[test]
    fn dates_get_shorter_the_closer_they_are() {
        assert_eq!(date_style((2026, 11, 21), (2026, 11, 21)), DateStyle::Time);
        assert_eq!(
            date_style((2026, 11, 21), (2026, 1, 2)),
            DateStyle::DayMonth
        );
        assert_eq!(date_style((2026, 11, 21), (2025, 12, 31)), DateStyle::Full);
    }

    #[test]
    fn sizes_read_naturally() {
        assert_eq!(size(512), "512 B");
        assert_eq!(size(2048), "2 KB");
        assert_eq!(size(3 * 1024 * 1024 + 100_000), "3.1 MB");
    }
}
