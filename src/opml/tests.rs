use super::*;

/// `(id, name, url, folders)` of each feed read.
fn summary(imported: &Imported) -> Vec<(String, Option<String>, String, Vec<String>)> {
    imported
        .feeds
        .iter()
        .map(|f| {
            (
                f.id.clone(),
                f.name.clone(),
                f.url.clone(),
                f.folders.clone(),
            )
        })
        .collect()
}

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/data/opml/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// `(id, name, url, folders)` of a feed expected.
type Expected = (&'static str, &'static str, &'static str, Vec<&'static str>);

#[test]
fn readers_exports_give_their_feeds_with_folders_and_unique_ids() {
    let s = |v: &str| v.to_owned();
    let cases: [(&str, &str, Vec<Expected>, usize); 4] = [
        (
            "feedly_lists_a_feed_once_per_category",
            "feedly.opml",
            vec![
                (
                    "bbc-news",
                    "BBC News عربي",
                    "https://feeds.bbci.co.uk/arabic/rss.xml",
                    vec!["أخبار"],
                ),
                (
                    "aljazeera.net",
                    "الجزيرة نت",
                    "https://www.aljazeera.net/aljazeerarss/a7c186be-1baa-4bd4-9d80-a84db769f779/73d0e1b4-532f-45ef-b135-bfdff8b8cab9",
                    vec!["أخبار"],
                ),
                (
                    "alarabiya.net",
                    "العربية",
                    "https://www.alarabiya.net/feed/rss2/ar.xml",
                    vec!["أخبار"],
                ),
                (
                    "enabbaladi.net",
                    "عنب بلدي",
                    "https://www.enabbaladi.net/feed",
                    vec!["Syria"],
                ),
            ],
            1,
        ),
        (
            "inoreader_feeds_of_one_host",
            "inoreader.opml",
            vec![
                (
                    "aljazeera.net",
                    "الجزيرة نت",
                    "https://www.aljazeera.net/aljazeerarss/a7c186be-1baa-4bd4-9d80-a84db769f779/73d0e1b4-532f-45ef-b135-bfdff8b8cab9",
                    vec!["Arabic news"],
                ),
                (
                    "bbc-news",
                    "الشرق الأوسط - BBC News عربي",
                    "https://feeds.bbci.co.uk/arabic/middleeast/rss.xml",
                    vec!["Arabic news"],
                ),
                (
                    "feeds.bbci.co.uk",
                    "اقتصاد",
                    "https://feeds.bbci.co.uk/arabic/business/rss.xml",
                    vec!["Arabic news"],
                ),
                (
                    "feeds.bbci.co.uk-sports",
                    "رياضة",
                    "https://feeds.bbci.co.uk/arabic/sports/rss.xml",
                    vec!["Arabic news"],
                ),
                (
                    "reuters-world-news",
                    "Reuters: World News",
                    "https://www.reutersagency.com/feed/?best-regions=middle-east&post_type=best",
                    vec!["Wires"],
                ),
            ],
            0,
        ),
        (
            "miniflux_closes_each_outline",
            "miniflux.opml",
            vec![
                (
                    "al-arabiya",
                    "Al Arabiya",
                    "https://www.alarabiya.net/feed/rss2/ar.xml",
                    vec!["All"],
                ),
                (
                    "asharq-al-awsat",
                    "Asharq Al-Awsat",
                    "https://aawsat.com/feed",
                    vec!["All"],
                ),
                (
                    "almodon.com",
                    "المدن",
                    "https://www.almodon.com/rss",
                    vec!["Levant"],
                ),
                (
                    "annahar.com",
                    "النهار",
                    "https://www.annahar.com/rss",
                    vec!["Levant"],
                ),
            ],
            0,
        ),
        (
            "netnewswire_nests_folders",
            "netnewswire.opml",
            vec![
                (
                    "enabbaladi.net",
                    "عنب بلدي",
                    "https://www.enabbaladi.net/feed",
                    vec!["Arab press"],
                ),
                (
                    "raseef22-22",
                    "Raseef22 – رصيف22",
                    "https://raseef22.net/feed?lang=ar&format=rss",
                    vec!["Arab press"],
                ),
                (
                    "al-akhbar.com",
                    "الأخبار",
                    "https://al-akhbar.com/rss",
                    vec!["Arab press", "Akhbar"],
                ),
                (
                    "daring-fireball",
                    "Daring Fireball",
                    "https://daringfireball.net/feeds/main",
                    vec![],
                ),
            ],
            0,
        ),
    ];
    for (name, file, want, notes) in cases {
        let imported = read_opml(&fixture(file)).unwrap_or_else(|e| panic!("{name}: {e}"));
        let want: Vec<_> = want
            .into_iter()
            .map(|(id, n, url, folders)| {
                (
                    s(id),
                    Some(s(n)),
                    s(url),
                    folders.into_iter().map(s).collect(),
                )
            })
            .collect();
        assert_eq!(summary(&imported), want, "{name}");
        assert_eq!(imported.notes.len(), notes, "{name}: {:?}", imported.notes);
        assert!(imported.title.is_some(), "{name}: the head title is read");
    }
}

#[test]
fn outlines_that_cannot_be_feeds_are_noted_with_their_line() {
    let opml = "<opml version=\"2.0\"><body>\n\
        <outline text=\"a link\" type=\"link\" url=\"https://a.test/\"/>\n\
        <outline text=\"empty folder\"></outline>\n\
        <outline text=\"ftp\" xmlUrl=\"ftp://a.test/rss\"/>\n\
        <outline text=\"not a url\" xmlUrl=\"rss.xml\"/>\n\
        <outline text=\"ok\" xmlUrl=\"https://a.test/rss\"/>\n\
        <outline text=\"again\" xmlUrl=\"https://a.test/rss\"/>\n\
        </body></opml>";
    let imported = read_opml(opml.as_bytes()).unwrap();
    assert_eq!(imported.feeds.len(), 1);
    assert_eq!(imported.feeds[0].line, 6);
    let notes = imported.notes;
    let want = [
        "line 2: outline \"a link\" has no xmlUrl: skipped",
        "line 3: outline \"empty folder\" has no xmlUrl: skipped",
        "line 4: outline \"ftp\": xmlUrl \"ftp://a.test/rss\" is not an http or https URL: skipped",
        "line 5: outline \"not a url\": xmlUrl \"rss.xml\" is not a URL",
        "line 7: outline \"again\": the same URL as line 6 (https://a.test/rss): skipped",
    ];
    assert_eq!(notes.len(), want.len(), "{notes:?}");
    for (note, want) in notes.iter().zip(want) {
        assert!(
            note.starts_with(want),
            "{note:?} should start with {want:?}"
        );
    }
}

#[test]
fn bad_documents_get_an_error_that_names_the_problem() {
    let deep = format!(
        "<opml><body>{}{}</body></opml>",
        "<outline text=\"f\">".repeat(MAX_DEPTH),
        "</outline>".repeat(MAX_DEPTH)
    );
    let cases: [(&str, &[u8], OpmlError); 7] = [
        (
            "not_xml",
            b"name,url\nBBC,https://a.test/rss\n",
            OpmlError::Empty,
        ),
        (
            "html_page",
            b"<html><body><a href=\"x\">x</a></body></html>",
            OpmlError::NotOpml {
                root: "html".to_owned(),
            },
        ),
        (
            "no_body",
            b"<opml version=\"2.0\"><head><title>t</title></head></opml>",
            OpmlError::NoBody,
        ),
        ("empty_root", b"<opml/>", OpmlError::NoBody),
        (
            "unclosed",
            b"<opml>\n<body>\n<outline text=\"a\">\n",
            OpmlError::NotXml {
                line: 4,
                message: "the document ends inside <outline>".to_owned(),
            },
        ),
        (
            "too_deep",
            deep.as_bytes(),
            OpmlError::TooDeep {
                line: 1,
                max: MAX_DEPTH,
            },
        ),
        ("nothing", b"", OpmlError::Empty),
    ];
    for (name, bytes, want) in cases {
        assert_eq!(read_opml(bytes), Err(want), "{name}");
    }
    let mismatched = read_opml(b"<opml>\n<body>\n</head>\n</opml>").unwrap_err();
    assert!(
        matches!(mismatched, OpmlError::NotXml { line: 3, .. }),
        "{mismatched}"
    );
    let large = vec![b' '; MAX_OPML_BYTES + 1];
    assert!(matches!(read_opml(&large), Err(OpmlError::TooLarge { .. })));
}

#[test]
fn names_are_cleaned_and_fall_back_from_text_to_title_to_the_id() {
    let opml = "<opml><body>\
        <outline text=\"  two\n  lines \" xmlUrl=\"https://a.test/1\"/>\
        <outline text=\"\" title=\"From title\" xmlUrl=\"https://a.test/2\"/>\
        <outline xmlUrl=\"https://b.test/3\"/>\
        </body></opml>";
    let imported = read_opml(opml.as_bytes()).unwrap();
    let names: Vec<_> = imported.feeds.iter().map(|f| f.name.as_deref()).collect();
    assert_eq!(names, [Some("two lines"), Some("From title"), None]);
    assert_eq!(imported.feeds[2].id, "b.test");
}

#[test]
fn a_legacy_charset_named_by_the_declaration_is_read() {
    let text = "<?xml version=\"1.0\" encoding=\"windows-1256\"?><opml><body>\
                <outline text=\"الجزيرة\" xmlUrl=\"https://a.test/rss\"/></body></opml>";
    let (bytes, _, _) = encoding_rs::WINDOWS_1256.encode(text);
    let imported = read_opml(&bytes).unwrap();
    assert_eq!(imported.feeds[0].name.as_deref(), Some("الجزيرة"));
}

#[test]
fn the_printed_tables_are_toml_with_the_folders_in_comments() {
    let imported = read_opml(&fixture("netnewswire.opml")).unwrap();
    let text = feeds_toml(&imported, "subs\nevil.opml");
    let parsed: toml::Table = toml::from_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let feeds = parsed["feed"].as_array().unwrap();
    assert_eq!(feeds.len(), imported.feeds.len());
    assert_eq!(feeds[2]["name"].as_str(), Some("الأخبار"));
    assert!(text.contains("# folder: Arab press / Akhbar\n[[feed]]\nid = \"al-akhbar.com\""));
    assert!(text.starts_with("# 4 feed(s) from subs evil.opml (Subscriptions-iCloud.opml)"));
}

#[test]
fn an_export_read_back_gives_the_same_feeds() {
    let feeds = vec![
        ExportFeed {
            id: "bbc-arabic".to_owned(),
            name: "BBC \"عربي\" & <Co>\n'quoted'".to_owned(),
            url: "https://feeds.bbci.co.uk/arabic/rss.xml?a=1&b=2".to_owned(),
            interval: Some("10m".to_owned()),
        },
        ExportFeed {
            id: "al-jazeera".to_owned(),
            name: "الجزيرة".to_owned(),
            url: "https://www.aljazeera.net/rss".to_owned(),
            interval: None,
        },
        ExportFeed {
            // A name that would make another id.
            id: "x1".to_owned(),
            name: "Other Name".to_owned(),
            url: "https://x.test/feed".to_owned(),
            interval: None,
        },
    ];
    let created = chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap();
    let opml = write_opml(&feeds, "rasad & co", created);
    assert!(opml.contains("<dateCreated>Fri, 15 Jan 2027 08:00:00 +0000</dateCreated>"));
    let imported = read_opml(opml.as_bytes()).unwrap();
    assert!(imported.notes.is_empty(), "{:?}", imported.notes);
    assert_eq!(imported.title.as_deref(), Some("rasad & co"));
    let back: Vec<ExportFeed> = imported
        .feeds
        .into_iter()
        .map(|f| ExportFeed {
            id: f.id,
            name: f.name.unwrap_or_default(),
            url: f.url,
            interval: f.interval,
        })
        .collect();
    let mut want = feeds;
    // Names are read as one line (a name is shown on one).
    want[0].name = "BBC \"عربي\" & <Co> 'quoted'".to_owned();
    assert_eq!(back, want);
}

#[test]
fn ids_given_by_an_export_are_kept_before_made_ones() {
    let opml = "<opml><body>\
        <outline text=\"BBC\" xmlUrl=\"https://a.test/1\"/>\
        <outline text=\"Other\" rasad:id=\"bbc\" xmlUrl=\"https://a.test/2\"/>\
        <outline text=\"Bad id\" rasad:id=\"no spaces\" xmlUrl=\"https://a.test/3\"/>\
        </body></opml>";
    let ids: Vec<String> = read_opml(opml.as_bytes())
        .unwrap()
        .feeds
        .into_iter()
        .map(|f| f.id)
        .collect();
    assert_eq!(ids, ["bbc-2", "bbc", "bad-id"]);
}
