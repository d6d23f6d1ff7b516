//! Left-to-right runs isolated inside right-to-left alerts, so that the bidi algorithm does not
//! reorder them: a time such as `2026-11-29 11:00 +03:00 (Asia/Riyadh)`, a Latin name, a URL or
//! `11:00` inside an Arabic line. Text formats get the Unicode isolates (LRI … PDI); HTML gets
//! `<bdi dir="ltr">`. Pure.

use std::ops::Range;

/// LEFT-TO-RIGHT ISOLATE and POP DIRECTIONAL ISOLATE.
const LRI: char = '\u{2066}';
const PDI: char = '\u{2069}';

/// `text` with each left-to-right run wrapped in LRI … PDI.
pub fn isolate_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    let mut at = 0;
    for run in ltr_runs(text) {
        out.push_str(&text[at..run.start]);
        out.push(LRI);
        out.push_str(&text[run.clone()]);
        out.push(PDI);
        at = run.end;
    }
    out.push_str(&text[at..]);
    out
}

/// `text` escaped for HTML, with each left-to-right run in `<bdi dir="ltr">`.
pub fn isolate_html(text: &str) -> String {
    let escape = |s: &str| html_escape::encode_text(s).into_owned();
    let mut out = String::with_capacity(text.len() + 32);
    let mut at = 0;
    for run in ltr_runs(text) {
        out.push_str(&escape(&text[at..run.start]));
        out.push_str("<bdi dir=\"ltr\">");
        out.push_str(&escape(&text[run.clone()]));
        out.push_str("</bdi>");
        at = run.end;
    }
    out.push_str(&escape(&text[at..]));
    out
}

/// The byte ranges of the runs worth isolating: Latin letters and digits with the neutral
/// characters between them, when they hold a Latin letter or more than a bare number (a lone
/// `12` is placed well by the bidi algorithm; `11:00`, `2026-11-29` and `ISIS` are not).
fn ltr_runs(text: &str) -> Vec<Range<usize>> {
    let mut runs = Vec::new();
    let mut run: Option<Run> = None;
    for (i, c) in text.char_indices() {
        let end = i + c.len_utf8();
        match run.as_mut() {
            // The closing parenthesis of one opened inside the run belongs to it.
            Some(r) if c == ')' && r.open > 0 => {
                r.open -= 1;
                r.end = end;
            }
            Some(r) if is_ltr(c) || c.is_ascii_digit() => {
                r.letter |= is_ltr(c);
                r.joined |= r.punctuated;
                r.end = end;
            }
            Some(r) if is_joiner(c) => {
                r.open += usize::from(c == '(');
                r.punctuated |= c != ' ';
            }
            Some(_) => {
                runs.extend(run.take().and_then(Run::worth_isolating));
            }
            None if is_ltr(c) || c.is_ascii_digit() => {
                run = Some(Run {
                    start: i,
                    end,
                    letter: is_ltr(c),
                    joined: false,
                    punctuated: false,
                    open: 0,
                });
            }
            None => {}
        }
    }
    runs.extend(run.and_then(Run::worth_isolating));
    runs
}

/// A run being read: where it starts and ends (its last letter or digit), whether it holds a
/// letter, or digits joined by punctuation (`11:00`).
struct Run {
    start: usize,
    end: usize,
    letter: bool,
    joined: bool,
    /// Punctuation seen since the run began (it joins only when more follows).
    punctuated: bool,
    open: usize,
}

impl Run {
    fn worth_isolating(self) -> Option<Range<usize>> {
        (self.letter || self.joined).then_some(self.start..self.end)
    }
}

/// A strong left-to-right letter (Latin, Greek, Cyrillic…).
fn is_ltr(c: char) -> bool {
    c.is_alphabetic() && !is_rtl(c)
}

fn is_rtl(c: char) -> bool {
    matches!(c, '\u{0590}'..='\u{08FF}' | '\u{FB1D}'..='\u{FDFF}' | '\u{FE70}'..='\u{FEFF}')
}

/// Neutral characters that join two left-to-right pieces into one run.
fn is_joiner(c: char) -> bool {
    matches!(
        c,
        ' ' | '.'
            | ','
            | ':'
            | '/'
            | '+'
            | '-'
            | '_'
            | '@'
            | '%'
            | '&'
            | '\''
            | '('
            | ')'
            | '#'
            | '?'
            | '='
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn isolates_left_to_right_runs_in_arabic_text() {
        let cases = [
            (
                "time_in_riyadh",
                "2026-11-29 11:00 +03:00 (Asia/Riyadh)",
                "\u{2066}2026-11-29 11:00 +03:00 (Asia/Riyadh)\u{2069}",
            ),
            (
                "latin_name_in_arabic",
                "قال Daesh إن",
                "قال \u{2066}Daesh\u{2069} إن",
            ),
            (
                "two_latin_words_one_run",
                "بيان Islamic State اليوم",
                "بيان \u{2066}Islamic State\u{2069} اليوم",
            ),
            (
                "a_time_in_arabic",
                "عند 11:00 صباحا",
                "عند \u{2066}11:00\u{2069} صباحا",
            ),
            (
                "a_bare_number_is_left_alone",
                "قتل 14 جنديا",
                "قتل 14 جنديا",
            ),
            (
                "url_in_arabic",
                "المصدر https://news.example/a?id=1 اليوم",
                "المصدر \u{2066}https://news.example/a?id=1\u{2069} اليوم",
            ),
            (
                "trailing_neutral_stays_outside",
                "عن ISIS، ثم",
                "عن \u{2066}ISIS\u{2069}، ثم",
            ),
            ("arabic_alone_is_unchanged", "بيان لداعش", "بيان لداعش"),
        ];
        for (name, text, want) in cases {
            assert_eq!(isolate_text(text), want, "{name}");
        }
    }

    #[test]
    fn html_runs_go_in_bdi_and_everything_is_escaped() {
        let cases = [
            (
                "latin_run_and_markup_escaped",
                "قال Daesh <اليوم>",
                "قال <bdi dir=\"ltr\">Daesh</bdi> &lt;اليوم&gt;",
            ),
            (
                "ampersand_inside_a_run",
                "شركة AT&T اليوم",
                "شركة <bdi dir=\"ltr\">AT&amp;T</bdi> اليوم",
            ),
            ("nothing_to_isolate", "بيان لداعش", "بيان لداعش"),
        ];
        for (name, text, want) in cases {
            assert_eq!(isolate_html(text), want, "{name}");
        }
    }
}
