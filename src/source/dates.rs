//! Feed dates as they are really written, read into UTC: RFC 822/2822 and RFC 3339 with their
//! common corruptions, named zones of the region, no zone (read as UTC), day-first numeric
//! dates, Arabic and Levantine month names and Arabic-Indic digits. Pure.
//!
//! feed-rs calls [`parse_timestamp`] for every date it meets; `None` leaves the date out and
//! the story then carries its fetch time.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};

/// Reads one date, or `None` when nothing sensible can be made of it.
pub fn parse_timestamp(raw: &str) -> Option<DateTime<Utc>> {
    let raw = raw.trim();
    if raw.is_empty() {
        return None;
    }
    // Fast paths: the two forms well-behaved feeds use.
    if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
        return Some(t.with_timezone(&Utc));
    }
    if let Ok(t) = DateTime::parse_from_rfc2822(raw) {
        return Some(t.with_timezone(&Utc));
    }
    let normalized = normalize(raw);
    Fields::read(&normalized)?.to_utc()
}

/// Arabic-Indic digits to ASCII, Arabic month names to English ones, Arabic weekday names and
/// punctuation dropped.
fn normalize(raw: &str) -> String {
    let mut text: String = raw
        .chars()
        .map(|c| match c {
            '\u{0660}'..='\u{0669}' => char::from(b'0' + (c as u32 - 0x0660) as u8),
            '\u{06F0}'..='\u{06F9}' => char::from(b'0' + (c as u32 - 0x06F0) as u8),
            '\u{060C}' | '\u{061B}' => ',',
            '\u{066B}' => '.',
            '\u{066C}' => ',',
            _ => c,
        })
        .collect();
    if text.is_ascii() {
        return text;
    }
    for (names, english) in ARABIC_MONTHS {
        for name in *names {
            if text.contains(name) {
                text = text.replace(name, &format!(" {english} "));
            }
        }
    }
    for day in ARABIC_WEEKDAYS {
        text = text.replace(day, " ");
    }
    for (marker, english) in [
        ("صباحا", " AM"),
        ("مساء", " PM"),
        (" ص", " AM"),
        (" م", " PM"),
    ] {
        if text.contains(marker) {
            text = text.replace(marker, english);
        }
    }
    text
}

/// Month names of the Egyptian/Gulf (يناير), Levantine/Iraqi (كانون الثاني) and Maghrebi
/// (جانفي) calendars; two-word names come first so that they are replaced whole.
const ARABIC_MONTHS: &[(&[&str], &str)] = &[
    (&["كانون الثاني", "كانون ثاني"], "Jan"),
    (&["تشرين الأول", "تشرين اول", "تشرين الاول"], "Oct"),
    (&["تشرين الثاني", "تشرين ثاني"], "Nov"),
    (&["كانون الأول", "كانون اول", "كانون الاول"], "Dec"),
    (&["يناير", "جانفي"], "Jan"),
    (&["فبراير", "فيفري", "شباط"], "Feb"),
    (&["مارس", "آذار", "اذار"], "Mar"),
    (
        &["أبريل", "ابريل", "إبريل", "أفريل", "افريل", "نيسان"],
        "Apr",
    ),
    (&["مايو", "ماي", "أيار", "ايار"], "May"),
    (&["يونيو", "يونيه", "جوان", "حزيران"], "Jun"),
    (&["يوليو", "يوليه", "جويلية", "تموز"], "Jul"),
    (&["أغسطس", "اغسطس", "أوت", "اوت", "آب"], "Aug"),
    (&["سبتمبر", "أيلول", "ايلول"], "Sep"),
    (&["أكتوبر", "اكتوبر"], "Oct"),
    (&["نوفمبر"], "Nov"),
    (&["ديسمبر"], "Dec"),
];

const ARABIC_WEEKDAYS: &[&str] = &[
    "الأحد",
    "الاحد",
    "الإثنين",
    "الاثنين",
    "الثلاثاء",
    "الأربعاء",
    "الاربعاء",
    "الخميس",
    "الجمعة",
    "السبت",
];

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const WEEKDAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// The parts of a date found in its tokens, in whatever order they came.
#[derive(Debug, Default)]
struct Fields {
    year: Option<i32>,
    month: Option<u32>,
    day: Option<u32>,
    time: Option<NaiveTime>,
    pm: Option<bool>,
    offset: Option<i32>,
}

impl Fields {
    fn read(text: &str) -> Option<Fields> {
        let mut f = Fields::default();
        let mut numbers: Vec<&str> = Vec::new();
        for token in text.split(|c: char| c.is_whitespace() || c == ',') {
            let token = token.trim_matches(|c: char| c == '(' || c == ')' || c == '.');
            if token.is_empty() {
                continue;
            }
            if !f.token(token, &mut numbers) {
                return None;
            }
        }
        f.place_numbers(&numbers)?;
        Some(f)
    }

    /// Takes one token; `false` when it cannot be part of a date.
    fn token<'t>(&mut self, token: &'t str, numbers: &mut Vec<&'t str>) -> bool {
        let lower = token.to_ascii_lowercase();
        if let Some((date, time)) = split_iso(token) {
            return self.numeric_date(date) && self.time_with_zone(time);
        }
        if token.contains(['-', '/', '.']) && token.starts_with(|c: char| c.is_ascii_digit()) {
            if self.numeric_date(token) {
                return true;
            }
            if token.contains(':') {
                return self.time_with_zone(token);
            }
        }
        if token.contains(':') && token.starts_with(|c: char| c.is_ascii_digit()) {
            return self.time_with_zone(token);
        }
        if token.chars().all(|c| c.is_ascii_digit()) {
            numbers.push(token);
            return true;
        }
        if let Some(m) = MONTHS.iter().position(|m| lower.starts_with(m)) {
            self.month = Some(m as u32 + 1);
            return true;
        }
        if WEEKDAYS.iter().any(|d| lower.starts_with(d)) {
            return true;
        }
        match lower.as_str() {
            "am" | "a" => self.pm = Some(false),
            "pm" | "p" => self.pm = Some(true),
            "t" | "at" => {}
            _ => match zone_offset(token) {
                Some(offset) => self.offset = Some(offset),
                None => return false,
            },
        }
        true
    }

    /// `2024-05-12`, `2024/05/12`, `12/05/2024`, `12-05-2024`, `12.05.2024`, `2024-05`.
    fn numeric_date(&mut self, token: &str) -> bool {
        let parts: Vec<&str> = token.split(['-', '/', '.']).collect();
        let nums: Option<Vec<i64>> = parts.iter().map(|p| p.parse().ok()).collect();
        let Some(nums) = nums else { return false };
        match (parts.as_slice(), nums.as_slice()) {
            ([y, ..], [year, month, rest @ ..]) if y.len() == 4 && rest.len() <= 1 => {
                self.year = Some(*year as i32);
                self.month = Some(*month as u32);
                self.day = Some(rest.first().map_or(1, |d| *d as u32));
                true
            }
            ([y], [year]) if y.len() == 4 => {
                self.year = Some(*year as i32);
                self.month.get_or_insert(1);
                self.day.get_or_insert(1);
                true
            }
            ([_, _, y], [a, b, year]) if y.len() == 4 || y.len() == 2 => {
                // Day first, as the region writes it, unless that cannot be a date.
                let (day, month) = if *b > 12 && *a <= 12 {
                    (*b, *a)
                } else {
                    (*a, *b)
                };
                self.year = Some(full_year(*year));
                self.month = Some(month as u32);
                self.day = Some(day as u32);
                true
            }
            _ => false,
        }
    }

    /// `10:00`, `10:00:00`, `10:00:00.123`, with an optional zone glued on (`Z`, `+03:00`).
    fn time_with_zone(&mut self, token: &str) -> bool {
        let split = token
            .char_indices()
            .skip(1)
            .find(|(_, c)| matches!(c, '+' | '-' | 'Z' | 'z' | 'G' | 'U'))
            .map_or(token.len(), |(i, _)| i);
        let (time, zone) = token.split_at(split);
        let mut parts = time.split(':');
        let hour: Option<u32> = parts.next().and_then(|h| h.parse().ok());
        let minute: Option<u32> = parts.next().and_then(|m| m.parse().ok());
        let second: f64 = parts.next().and_then(|s| s.parse().ok()).unwrap_or(0.0);
        let (Some(hour), Some(minute)) = (hour, minute) else {
            return false;
        };
        // `24:00` is midnight at the end of the day; feeds mean the start of the next.
        let hour = if hour == 24 { 0 } else { hour };
        let Some(time) = NaiveTime::from_hms_opt(hour, minute, (second as u32).min(59)) else {
            return false;
        };
        self.time = Some(time);
        if !zone.is_empty() {
            match zone_offset(zone) {
                Some(offset) => self.offset = Some(offset),
                None => return false,
            }
        }
        true
    }

    /// Bare numbers: the day and the year, in the order RFC 822 and asctime give them.
    fn place_numbers(&mut self, numbers: &[&str]) -> Option<()> {
        for n in numbers {
            let value: i64 = n.parse().ok()?;
            if n.len() == 4 && self.year.is_none() {
                self.year = Some(value as i32);
            } else if self.day.is_none() && (1..=31).contains(&value) {
                self.day = Some(value as u32);
            } else if self.year.is_none() && n.len() == 2 {
                self.year = Some(full_year(value));
            } else if n.len() == 4 && n.starts_with(['0', '1', '2']) && self.time.is_none() {
                // `1000` as a time of day: `HHMM`.
                self.time = NaiveTime::from_hms_opt(value as u32 / 100, value as u32 % 100, 0);
            } else {
                return None;
            }
        }
        Some(())
    }

    fn to_utc(&self) -> Option<DateTime<Utc>> {
        let date = NaiveDate::from_ymd_opt(self.year?, self.month?, self.day?)?;
        let mut time = self.time.unwrap_or(NaiveTime::MIN);
        if let Some(pm) = self.pm {
            use chrono::Timelike;
            let hour = time.hour() % 12 + if pm { 12 } else { 0 };
            time = time.with_hour(hour)?;
        }
        let offset = FixedOffset::east_opt(self.offset.unwrap_or(0))?;
        let local = NaiveDateTime::new(date, time);
        Some(
            offset
                .from_local_datetime(&local)
                .single()?
                .with_timezone(&Utc),
        )
    }
}

/// `2024-05-12T10:00:00+03:00` split into its date and time (with zone).
fn split_iso(token: &str) -> Option<(&str, &str)> {
    let t = token.find(['T', 't'])?;
    let (date, time) = (&token[..t], &token[t + 1..]);
    (date.len() >= 8 && date.starts_with(|c: char| c.is_ascii_digit()) && time.contains(':'))
        .then_some((date, time))
}

fn full_year(year: i64) -> i32 {
    match year {
        0..50 => 2000 + year as i32,
        50..100 => 1900 + year as i32,
        _ => year as i32,
    }
}

/// A zone as feeds write it, as seconds east of UTC: `+0300`, `-03:00`, `+3`, `Z`, `GMT+3`,
/// `UTC+03:00`, or a name. `AST` is Arabia Standard Time (+03:00), as outlets of the Gulf and
/// Iraq mean it, not RFC 822's Atlantic time.
fn zone_offset(zone: &str) -> Option<i32> {
    let upper = zone.to_ascii_uppercase();
    let named = match upper.as_str() {
        "Z" | "UT" | "UTC" | "GMT" | "WET" => Some(0),
        "BST" | "CET" | "WAT" | "WEST" => Some(3600),
        "EET" | "CEST" | "CAT" | "SAST" | "IST" => Some(2 * 3600),
        "EEST" | "AST" | "MSK" | "TRT" | "EAT" | "KSA" => Some(3 * 3600),
        "IRST" => Some(3 * 3600 + 1800),
        "GST" => Some(4 * 3600),
        "EDT" => Some(-4 * 3600),
        "EST" | "CDT" => Some(-5 * 3600),
        "CST" | "MDT" => Some(-6 * 3600),
        "MST" | "PDT" => Some(-7 * 3600),
        "PST" => Some(-8 * 3600),
        _ => None,
    };
    if named.is_some() {
        return named;
    }
    let numeric = ["GMT", "UTC", "UT"]
        .iter()
        .find_map(|p| upper.strip_prefix(p))
        .unwrap_or(&upper);
    let (sign, digits) = match numeric.chars().next()? {
        '+' => (1, &numeric[1..]),
        '-' => (-1, &numeric[1..]),
        _ => return None,
    };
    if !digits.is_ascii() {
        // `+aé1`: byte offsets below would split a character.
        return None;
    }
    let (hours, minutes) = match digits.split_once(':') {
        Some((h, m)) => (h.parse::<i32>().ok()?, m.parse::<i32>().ok()?),
        None if digits.len() <= 2 => (digits.parse().ok()?, 0),
        None if digits.len() == 4 => (digits[..2].parse().ok()?, digits[2..].parse().ok()?),
        None => return None,
    };
    ((0..=14).contains(&hours) && (0..60).contains(&minutes))
        .then(|| sign * (hours * 3600 + minutes * 60))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_named_cases() {
        let want = "2024-05-12T07:00:00+00:00";
        let cases = [
            ("rfc822", "Sun, 12 May 2024 07:00:00 GMT", want),
            ("rfc822_offset", "Sun, 12 May 2024 10:00:00 +0300", want),
            (
                "rfc822_colon_offset",
                "Sun, 12 May 2024 10:00:00 +03:00",
                want,
            ),
            ("rfc822_no_seconds", "Sun, 12 May 2024 07:00 GMT", want),
            ("rfc822_no_weekday", "12 May 2024 07:00:00 GMT", want),
            ("rfc822_full_names", "Sunday, 12 May 2024 07:00:00 UT", want),
            ("rfc822_two_digit_year", "Sun, 12 May 24 07:00:00 Z", want),
            (
                "rfc822_single_digit_hour",
                "Sun, 12 May 2024 7:00:00 GMT",
                want,
            ),
            (
                "rfc822_wrong_weekday",
                "Mon, 12 May 2024 07:00:00 GMT",
                want,
            ),
            ("rfc822_no_zone", "Sun, 12 May 2024 07:00:00", want),
            ("rfc822_ast", "Sun, 12 May 2024 10:00:00 AST", want),
            ("rfc822_eet", "Sun, 12 May 2024 09:00:00 EET", want),
            ("gmt_plus_3", "Sun, 12 May 2024 10:00:00 GMT+3", want),
            ("gmt_plus_0300", "Sun, 12 May 2024 10:00:00 GMT+03:00", want),
            ("rfc3339", "2024-05-12T10:00:00+03:00", want),
            ("rfc3339_z", "2024-05-12T07:00:00Z", want),
            (
                "rfc3339_fraction",
                "2024-05-12T07:00:00.250Z",
                "2024-05-12T07:00:00.250+00:00",
            ),
            ("iso_no_zone", "2024-05-12T07:00:00", want),
            ("iso_space_no_zone", "2024-05-12 07:00:00", want),
            ("iso_compact_offset", "2024-05-12T10:00:00+0300", want),
            ("iso_no_seconds", "2024-05-12T07:00Z", want),
            ("date_only", "2024-05-12", "2024-05-12T00:00:00+00:00"),
            ("slashes", "2024/05/12 07:00:00", want),
            ("day_first", "12/05/2024 07:00", want),
            ("pm", "12/05/2024 10:00:00 AM +0300", want),
            (
                "pm_afternoon",
                "Sun, 12 May 2024 07:00:00 PM GMT",
                "2024-05-12T19:00:00+00:00",
            ),
            ("asctime", "Sun May 12 07:00:00 2024", want),
            ("month_first_words", "May 12, 2024 07:00:00 GMT", want),
            ("arabic_month", "الأحد، 12 مايو 2024 10:00:00 +0300", want),
            (
                "arabic_month_arabic_digits",
                "الأحد، ١٢ مايو ٢٠٢٤ ١٠:٠٠ +0300",
                want,
            ),
            ("levantine_month", "12 أيار 2024 10:00 AST", want),
            (
                "levantine_two_words",
                "12 كانون الثاني 2024",
                "2024-01-12T00:00:00+00:00",
            ),
            (
                "tishreen_awal",
                "1 تشرين الأول 2024",
                "2024-10-01T00:00:00+00:00",
            ),
            ("maghreb_month", "12 جوان 2024", "2024-06-12T00:00:00+00:00"),
        ];
        for (name, raw, want) in cases {
            let got = parse_timestamp(raw).map(|t| t.to_rfc3339());
            assert_eq!(got.as_deref(), Some(want), "{name}: {raw}");
        }
    }

    #[test]
    fn refuses_what_is_not_a_date() {
        for (name, raw) in [
            ("empty", ""),
            ("words", "yesterday afternoon"),
            ("impossible_day", "31 Feb 2024"),
            ("only_a_time", "10:00"),
            ("junk_zone", "Sun, 12 May 2024 07:00:00 XYZ"),
            // Once a panic: a byte offset inside `é`, which lost the whole feed.
            ("zone_with_a_multibyte_letter", "+aé1"),
            ("time_with_a_multibyte_zone", "12 May 2024 10:00+aé1"),
            // Once an overflow in `hours * 3600`.
            (
                "zone_hours_beyond_i32_seconds",
                "12 May 2024 10:00 +999999999:00",
            ),
            ("negative_zone_minutes", "12 May 2024 10:00 +03:-30"),
        ] {
            assert_eq!(parse_timestamp(raw), None, "{name}");
        }
    }
}
