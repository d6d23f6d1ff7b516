//! Tests of feed parsing: named cases, and the bodies fuzzing found.

use super::*;

const RSS: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>أخبار</title><link>https://news.example/</link><language>ar</language>
<item><title>هجوم لداعش</title><link>https://news.example/1</link><guid>g-1</guid>
<description>&lt;p&gt;نص &lt;b&gt;الخبر&lt;/b&gt; &amp;amp; المزيد&lt;/p&gt;&lt;script&gt;x()&lt;/script&gt;</description>
<pubDate>Sun, 29 Nov 2026 10:00:00 GMT</pubDate></item>
<item><title>بلا معرف</title><description>خبر</description></item>
</channel></rss>"#;

#[test]
fn parses_items_into_stories_with_plain_text() {
    let feed = parse_feed(RSS.as_bytes()).expect("parses");
    assert_eq!(feed.feed.title.as_deref(), Some("أخبار"));
    assert_eq!(feed.feed.language.as_deref(), Some("ar"));
    let stories = feed.stories("f", Utc::now());
    assert_eq!(stories.len(), 2);
    assert_eq!(stories[0].title, "هجوم لداعش");
    assert_eq!(stories[0].summary, "نص الخبر & المزيد");
    assert!(stories[0].summary_html.contains("<b>"));
    assert_eq!(stories[0].guid.as_deref(), Some("g-1"));
    assert_eq!(stories[0].url.as_deref(), Some("https://news.example/1"));
    // A poll takes the items' fields instead of copying them: the same stories.
    let fetched = stories[0].fetched;
    assert_eq!(
        feed.clone().into_stories("f", fetched),
        feed.stories("f", fetched)
    );
}

#[test]
fn an_item_without_guid_or_link_keeps_its_key_across_parses() {
    let keyed = || {
        let mut stories = parse_feed(RSS.as_bytes())
            .expect("parses")
            .stories("f", Utc::now());
        crate::dedupe::assign_keys(&mut stories, "https://news.example/rss");
        stories
    };
    let (first, second) = (keyed(), keyed());
    assert_eq!(first[1].guid, None);
    assert!(first[1].key.starts_with("hash:"), "{}", first[1].key);
    assert_eq!(first[1].key, second[1].key);
}

#[test]
fn reads_feeds_in_every_state_of_repair() {
    let rss =
        |item: &str| format!("<rss><channel><title>t</title><item>{item}</item></channel></rss>");
    let windows_1256 = encoding_rs::WINDOWS_1256
        .encode(&rss("<title>عاجل</title><guid>g</guid>"))
        .0
        .to_vec();
    let mut utf16 = vec![0xFE, 0xFF];
    let declared = format!(
        "<?xml version=\"1.0\" encoding=\"utf-16\"?>{}",
        rss("<title>عاجل</title><guid>g</guid>")
    );
    utf16.extend(declared.encode_utf16().flat_map(u16::to_be_bytes));
    let cases: Vec<(&str, Vec<u8>, Option<&str>, &str)> = vec![
        (
            "windows_1256_in_http_header_only",
            windows_1256,
            Some("text/xml; charset=windows-1256"),
            "عاجل",
        ),
        ("utf16be_declared_utf16", utf16, None, "عاجل"),
        (
            "bare_ampersand_and_html_entity",
            rss("<title>أ &amp; ب &nbsp;&laquo;ج&raquo; & د</title>").into_bytes(),
            None,
            "أ & ب \u{a0}«ج» & د",
        ),
        (
            "invalid_byte",
            rss("<title>عاجل\u{FFFD}</title>")
                .replace('\u{FFFD}', "\u{1}")
                .into_bytes()
                .into_iter()
                .map(|b| if b == 1 { 0xFF } else { b })
                .collect(),
            None,
            "عاجل\u{FFFD}",
        ),
    ];
    for (name, body, content_type, title) in cases {
        let hints = BodyHints {
            content_type,
            url: None,
        };
        let feed = parse_feed_with(&body, hints).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(feed.entries[0].title.as_deref(), Some(title), "{name}");
    }
}

#[test]
fn undated_items_take_their_fetch_time_and_odd_dates_are_read() {
    let feed = parse_feed(
        "<rss version=\"2.0\"><channel><item><guid>a</guid><pubDate>soon</pubDate></item>\
         <item><guid>b</guid><pubDate>الأحد، ١٢ مايو ٢٠٢٤ ١٠:٠٠ AST</pubDate></item></channel></rss>"
            .as_bytes(),
    )
    .expect("parses");
    let fetched = Utc::now();
    let stories = feed.stories("f", fetched);
    // Not an error: the story keeps no date and is shown at its fetch time.
    assert_eq!((stories[0].published, stories[0].fetched), (None, fetched));
    assert_eq!(
        stories[1].published.map(|t| t.to_rfc3339()).as_deref(),
        Some("2024-05-12T07:00:00+00:00")
    );
}

#[test]
fn titles_for_matching_are_plain_text() {
    let rss = |title: &str| {
        format!("<rss version=\"2.0\"><channel><item><title>{title}</title></item></channel></rss>")
    };
    let cases = [
        ("plain", rss("خبر   عاجل"), "خبر عاجل"),
        (
            "escaped_markup",
            rss("&lt;b&gt;عاجل&lt;/b&gt;: غارات"),
            "عاجل: غارات",
        ),
        ("double_escaped_entity", rss("أ &amp;amp; ب"), "أ & ب"),
        ("less_than_sign", rss("3 &lt; 4"), "3 < 4"),
    ];
    for (name, body, want) in cases {
        let feed = parse_feed(body.as_bytes()).expect("parses");
        assert_eq!(feed.entries[0].plain_title(), want, "{name}");
    }
}

#[test]
fn relative_links_and_ids_resolve_against_the_document_url() {
    let body = "<rss version=\"2.0\"><channel><link>/ar/</link><item><guid>/news/1</guid>\
                <link>/news/1.html</link></item></channel></rss>";
    let base = Url::parse("https://outlet.example/rss/ar.xml").expect("a URL");
    let hints = BodyHints {
        content_type: None,
        url: Some(&base),
    };
    let feed = parse_feed_with(body.as_bytes(), hints).expect("parses");
    assert_eq!(
        feed.feed.link.as_deref(),
        Some("https://outlet.example/ar/")
    );
    assert_eq!(
        feed.entries[0].id.as_deref(),
        Some("https://outlet.example/news/1")
    );
    assert_eq!(
        feed.entries[0].link.as_deref(),
        Some("https://outlet.example/news/1.html")
    );
}

#[test]
fn an_html_page_is_not_a_feed_and_names_the_feed_it_advertises() {
    let page = r#"<!DOCTYPE html><html><head><link rel="alternate" type="application/rss+xml" href="https://news.example/rss"></head><body>x</body></html>"#;
    let hints = BodyHints {
        content_type: Some("text/html; charset=utf-8"),
        url: None,
    };
    let error = parse_feed_with(page.as_bytes(), hints)
        .expect_err("an HTML page")
        .to_string();
    assert!(
        error.contains("not a feed (content type text/html"),
        "{error}"
    );
    assert!(error.contains("https://news.example/rss"), "{error}");
}

/// Found by fuzzing (`parse`): quick-xml panics when a declaration after the start names
/// an encoding other than the one it reads; the feed was lost as "the parser crashed".
#[test]
fn a_stray_xml_declaration_naming_another_encoding_is_dropped() {
    let stray = "<?xml version=\"1.0\" encoding=\"big5\"?>";
    let cases = [
        (
            "after_the_root",
            format!(
                "<rss version=\"2.0\">{stray}<channel><item><title>t</title></item></channel></rss>"
            ),
        ),
        (
            "after_a_long_comment",
            format!(
                "<!--{}--><rss version=\"2.0\"><channel>{stray}<item><title>t</title></item></channel></rss>",
                "c".repeat(16 * 1024)
            ),
        ),
    ];
    for (name, body) in cases {
        let feed = parse_feed(body.as_bytes()).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(feed.entries[0].title.as_deref(), Some("t"), "{name}");
    }
    // The input the fuzzer found: a UTF-16 body whose declaration ends in a UTF-8 part.
    let found =
        include_bytes!("../../../tests/data/fuzz/utf16-declaration-ended-in-a-utf8-part.xml");
    if let Err(ParseError::Panic(e)) = parse_feed(found) {
        panic!("the parser crashed: {e}");
    }
}

/// Found by fuzzing (`parse`): feed-rs cut an author after the email address at a byte
/// inside the next character, and the whole feed was lost as "the parser crashed".
#[test]
fn an_author_whose_email_is_glued_to_a_non_ascii_character() {
    for (name, author) in [
        ("arabic_comma", "editor@outlet.com، محمد"),
        ("quotation_mark", "sf@zaks.de“گ‘عco.uk"),
    ] {
        let body = format!(
            "<rss version=\"2.0\"><channel><managingEditor>{author}</managingEditor><item>\
             <title>t</title><author>{author}</author></item></channel></rss>"
        );
        let feed = parse_feed(body.as_bytes()).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(feed.entries[0].title.as_deref(), Some("t"), "{name}");
    }
}

/// Found by fuzzing (`parse`): an author whose address touches a character written as an
/// entity (`&Lt;`, «≪») or a JSON escape, which no repair of the source sees, still panicked
/// feed-rs. The second reading keeps the feed, and every `@` in what it read.
#[test]
fn an_author_whose_email_touches_a_character_written_as_an_escape() {
    let rss = "<rss version=\"2.0\"><channel><managingEditor>Editor &Lt;me@example.com&gt;\
               </managingEditor><item><title>t@x</title><link>https://o.example/@desk/1</link>\
               <author>Editor &Lt;me@example.com&gt;</author><description>write to a@b.com\
               </description></item></channel></rss>";
    let json = r#"{"version": "https://jsonfeed.org/version/1.1", "title": "f",
        "items": [{"id": "1", "title": "t@x", "content_text": "write to a@b.com",
        "url": "https://o.example/@desk/1", "authors": [{"name": "Editor \u226ame@example.com>"}]}]}"#;
    for (name, body) in [("rss_entity", rss), ("json_escape", json)] {
        let feed = parse_feed(body.as_bytes()).unwrap_or_else(|e| panic!("{name}: {e}"));
        let entry = &feed.entries[0];
        assert_eq!(entry.title.as_deref(), Some("t@x"), "{name}");
        assert_eq!(
            entry.link.as_deref(),
            Some("https://o.example/@desk/1"),
            "{name}"
        );
        let text = entry.summary.as_deref().or(entry.content.as_deref());
        assert!(
            text.is_some_and(|t| t.contains("a@b.com")),
            "{name}: {entry:?}"
        );
        let read = format!("{feed:?}");
        assert!(
            !read.contains(AT_STAND_IN) && !read.contains("%EE%81%80"),
            "{name}"
        );
    }
}

/// Found by fuzzing (`parse`): a declaration naming another encoding after a few KiB, which
/// the repairs took for comment text (a comment opened inside an author and not closed where
/// quick-xml closes it), panicked quick-xml and lost the feed.
#[test]
fn a_late_declaration_the_repairs_took_for_a_comment_costs_no_feed() {
    let found = include_bytes!("../../../tests/data/fuzz/parse-late-declaration-in-comment.xml");
    let read = parse_feed(found);
    assert!(!matches!(read, Err(ParseError::Panic(_))), "{read:?}");
    assert_eq!(
        without_declarations("a<?xml version=\"1.0\"?>b<!-- <?xml encoding=\"x\"?> -->c<?xml"),
        "ab<!--  -->c<?xml"
    );
}

#[test]
fn rejects_what_is_not_a_feed() {
    for (name, body) in [
        ("html_page", "<html><body>hi</body></html>"),
        ("empty", ""),
        ("binary", "\u{0}\u{1}\u{2}"),
    ] {
        assert!(parse_feed(body.as_bytes()).is_err(), "{name}");
    }
}
