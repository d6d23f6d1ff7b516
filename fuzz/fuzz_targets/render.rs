//! The sinks' renderers on a story of fuzzed title and summary, with the hits the matcher finds
//! in it: the message view, the webhook body, and every format's templates.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rasad::config::{TemplateOverrides, WebhookFormat};
use rasad::matcher::Matcher;
use rasad::sink::Templates;
use rasad::sink::render::{message_view, webhook_body};
use rasad::sink::sample::sample_delivery;

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    let (title, summary) = input.split_once('\n').unwrap_or((input, ""));
    let mut delivery = sample_delivery();
    let story = &mut delivery.payload.story;
    story.title = title.to_owned();
    story.summary = summary.to_owned();
    story.summary_html = summary.to_owned();
    let matcher = Matcher::from_terms(["داعش".to_owned(), "ISIS".to_owned()])
        .expect("the keywords compile");
    delivery.payload.hits = matcher.match_story(&delivery.payload.story);
    let view = message_view(&[&delivery], chrono_tz::Asia::Baghdad, Some("@desk"));
    let _ = webhook_body(&delivery);
    for format in WebhookFormat::ALL {
        let templates =
            Templates::new(format, &TemplateOverrides::default()).expect("the defaults compile");
        let _ = templates.subject(&view);
        let _ = templates.text(&view);
        let _ = templates.html(&view);
        if let Err(e) = templates.body(&view) {
            panic!("{format:?}: the default body is not JSON: {e}");
        }
    }
});
