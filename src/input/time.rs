//! Timestamps as the inputs write them.

/// The year, month, day and hour of a timestamp, as written (the clock
/// time of the writer; a UTC offset is not applied). Recognized forms:
///
/// - ISO 8601 / RFC 3339 and PowerMTA: `2024-05-01T10:20:30Z`,
///   `2024-05-01 10:20:30-0700`, `2024-05-01` (hour 0);
/// - RFC 2822 (mail `Date:`, DSN `Arrival-Date`):
///   `Wed, 1 May 2024 10:20:30 +0200`, `1 May 24 10:20 GMT`;
/// - BSD syslog: `May  1 10:20:30`, which has no year (`None`);
/// - Unix time in seconds (9 to 11 digits, an optional fraction), in UTC.
///
/// ```
/// use mxrules::input::time_parts;
///
/// assert_eq!(time_parts("2024-05-01 10:20:30-0700"), Some((Some(2024), 5, 1, 10)));
/// assert_eq!(time_parts("Wed, 1 May 2024 23:59:59 +0000 (UTC)"), Some((Some(2024), 5, 1, 23)));
/// assert_eq!(time_parts("May  1 10:20:30"), Some((None, 5, 1, 10)));
/// assert_eq!(time_parts("1714558830"), Some((Some(2024), 5, 1, 10)));
/// assert_eq!(time_parts("yesterday"), None);
/// ```
pub fn time_parts(t: &str) -> Option<(Option<u16>, u8, u8, u8)> {
    let t = t.trim();
    iso(t)
        .or_else(|| syslog(t))
        .or_else(|| rfc2822(t))
        .or_else(|| epoch(t))
        .filter(|&(_, m, d, h)| (1..=12).contains(&m) && (1..=31).contains(&d) && h < 24)
}

fn digits(s: &str, n: usize) -> Option<u32> {
    let part = s.get(..n)?;
    if part.bytes().all(|b| b.is_ascii_digit()) {
        part.parse().ok()
    } else {
        None
    }
}

fn iso(t: &str) -> Option<(Option<u16>, u8, u8, u8)> {
    let b = t.as_bytes();
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let year = u16::try_from(digits(t, 4)?).ok()?;
    let month = u8::try_from(digits(&t[5..], 2)?).ok()?;
    let day = u8::try_from(digits(&t[8..], 2)?).ok()?;
    let hour = match b.get(10) {
        None => 0,
        Some(b'T' | b't' | b' ') => u8::try_from(digits(t.get(11..)?, 2)?).ok()?,
        Some(_) => return None,
    };
    Some((Some(year), month, day, hour))
}

fn month_number(name: &str) -> Option<u8> {
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    let head = name.get(..3)?;
    MONTHS
        .iter()
        .position(|m| m.eq_ignore_ascii_case(head))
        .and_then(|i| u8::try_from(i + 1).ok())
}

fn hour_of(clock: &str) -> Option<u8> {
    let (h, rest) = clock.split_once(':')?;
    if h.is_empty() || h.len() > 2 || rest.is_empty() {
        return None;
    }
    h.parse().ok()
}

fn syslog(t: &str) -> Option<(Option<u16>, u8, u8, u8)> {
    let mut words = t.split_whitespace();
    let month = month_number(words.next()?)?;
    let day: u8 = words.next()?.parse().ok()?;
    let hour = hour_of(words.next()?)?;
    Some((None, month, day, hour))
}

fn rfc2822(t: &str) -> Option<(Option<u16>, u8, u8, u8)> {
    let mut words = t.split_whitespace().peekable();
    if words.peek().is_some_and(|w| w.ends_with(',')) {
        words.next();
    }
    let day: u8 = words.next()?.parse().ok()?;
    let month = month_number(words.next()?)?;
    let year = words.next()?;
    let year: u16 = match (year.len(), year.parse::<u16>().ok()?) {
        (4, y) => y,
        (2, y) if y < 50 => 2000 + y,
        (2, y) => 1900 + y,
        _ => return None,
    };
    let hour = hour_of(words.next()?)?;
    Some((Some(year), month, day, hour))
}

fn epoch(t: &str) -> Option<(Option<u16>, u8, u8, u8)> {
    let whole = t.split_once('.').map_or(t, |(w, f)| {
        if f.bytes().all(|b| b.is_ascii_digit()) {
            w
        } else {
            ""
        }
    });
    if !(9..=11).contains(&whole.len()) || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let secs: i64 = whole.parse().ok()?;
    let days = secs.div_euclid(86_400);
    let hour = u8::try_from(secs.rem_euclid(86_400) / 3600).ok()?;
    let (y, m, d) = civil_from_days(days);
    Some((Some(u16::try_from(y).ok()?), m, d, hour))
}

/// Howard Hinnant's `civil_from_days`: days since 1970-01-01 to a date.
fn civil_from_days(z: i64) -> (i64, u8, u8) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    (y, m as u8, d as u8)
}

#[cfg(test)]
mod tests {
    use super::time_parts;

    #[test]
    fn forms() {
        assert_eq!(
            time_parts("2024-05-01T10:20:30.123456+02:00"),
            Some((Some(2024), 5, 1, 10))
        );
        assert_eq!(time_parts("2024-05-01"), Some((Some(2024), 5, 1, 0)));
        assert_eq!(time_parts("2024-13-01 10:00:00"), None);
        assert_eq!(
            time_parts("Thu, 29 Apr 2010 00:00:00 -0000"),
            Some((Some(2010), 4, 29, 0))
        );
        assert_eq!(
            time_parts("29 Apr 10 07:05 GMT"),
            Some((Some(2010), 4, 29, 7))
        );
        assert_eq!(time_parts("Dec 31 23:59:59"), Some((None, 12, 31, 23)));
        assert_eq!(time_parts("0"), None);
        assert_eq!(time_parts("1700000000.5"), Some((Some(2023), 11, 14, 22)));
        assert_eq!(time_parts(""), None);
    }
}
