//! Tests of the lenient repairs: named cases of broken feed text and what each repair makes of it.

use super::*;

/// A table of named cases, one row per case: it is as long as its table, and reads top to bottom.
#[test]
fn repairs_named_cases() {
    let cases = [
        (
            "clean_text_is_untouched",
            "<rss version=\"2.0\"><channel/></rss>",
            "<rss version=\"2.0\"><channel/></rss>",
        ),
        (
            "rss_without_version",
            "<rss><channel/></rss>",
            "<rss version=\"2.0\"><channel/></rss>",
        ),
        (
            "rss_with_unknown_version",
            "<rss version=\"0.94\" a='1'><channel/></rss>",
            "<rss version=\"2.0\"  a='1'><channel/></rss>",
        ),
        (
            "junk_before_and_after_root",
            "garbage\n<?xml version=\"1.0\"?><feed></feed>\n<!-- x --> trailing",
            "<feed></feed>",
        ),
        (
            "bare_ampersand",
            "<rss version=\"2.0\"><channel><link>http://x/?a=1&b=2</link></channel></rss>",
            "<rss version=\"2.0\"><channel><link>http://x/?a=1&amp;b=2</link></channel></rss>",
        ),
        (
            "html_named_entity",
            "<feed><title>عربي&nbsp;&raquo;&rlm;</title></feed>",
            "<feed><title>عربي&#160;&#187;&#8207;</title></feed>",
        ),
        (
            "xml_entities_kept",
            "<feed><title>&amp;&lt;&gt;&quot;&apos;&#233;&#xE9;</title></feed>",
            "<feed><title>&amp;&lt;&gt;&quot;&apos;&#233;&#xE9;</title></feed>",
        ),
        (
            "uppercase_hex_reference",
            "<feed><title>&#X41;</title></feed>",
            "<feed><title>&#x41;</title></feed>",
        ),
        (
            "unknown_entity_is_text",
            "<feed><title>&bogus; &</title></feed>",
            "<feed><title>&amp;bogus; &amp;</title></feed>",
        ),
        (
            "cdata_is_left_alone",
            "<feed><title><![CDATA[a & b &nbsp;]]></title></feed>",
            "<feed><title><![CDATA[a & b &nbsp;]]></title></feed>",
        ),
        (
            "declared_entity_is_expanded",
            "<!DOCTYPE feed [<!ENTITY me \"x\">]><feed>&me;</feed>",
            "<!DOCTYPE feed [<!ENTITY me \"x\">]><feed>x</feed>",
        ),
        (
            "atom_link_as_text",
            "<feed><link rel=\"alternate\">http://x/</link><link href=\"h\"/></feed>",
            "<feed><link rel=\"alternate\" href=\"http://x/\"/><link href=\"h\"/></feed>",
        ),
        (
            "prefixed_userland_rss",
            "<r:rss version=\"2.0\" xmlns:r=\"http://backend.userland.com/rss2\"><r:channel/></r:rss>",
            "<rss version=\"2.0\" xmlns:userland=\"http://backend.userland.com/rss2\"><channel/></rss>",
        ),
        (
            "truncated_root_end_tag",
            "<feed><title>t</title></feed",
            "<feed><title>t</title></feed>",
        ),
        (
            "rss_without_channel",
            "<rss version=\"2.0\"><item><title>t</title></item></rss>",
            "<rss version=\"2.0\"><channel><item><title>t</title></item></channel></rss>",
        ),
        (
            "userland_namespace",
            "<rss version=\"2.0\" xmlns=\"http://backend.userland.com/rss2\"><channel/></rss>",
            "<rss version=\"2.0\" ><channel/></rss>",
        ),
        (
            "atom_03",
            "<feed version=\"0.3\" xmlns=\"http://purl.org/atom/ns#\"><tagline type=\"text/html\">t</tagline><modified>m</modified></feed>",
            "<feed version=\"0.3\" xmlns=\"http://www.w3.org/2005/Atom\"><subtitle type=\"html\">t</subtitle><updated>m</updated></feed>",
        ),
        (
            "empty_type_attribute",
            "<feed><title type=\"\">t</title></feed>",
            "<feed><title>t</title></feed>",
        ),
        (
            "rdf_item_without_link",
            "<rdf:RDF><item rdf:about=\"a\"><title>t</title></item><item><link>l</link></item></rdf:RDF>",
            "<rdf:RDF><item rdf:about=\"a\"><link>urn:rasad:missing-link</link><title>t</title></item><item><link>l</link></item></rdf:RDF>",
        ),
    ];
    for (name, input, want) in cases {
        assert_eq!(repair(input), want, "{name}");
    }
}

/// Found by fuzzing (`parse`): the version inserted into `<rss>` moved the root tag, and the
/// next repair sliced the text at the old offsets, inside a character.
#[test]
fn rss_without_version_and_multibyte_characters_in_its_tag() {
    let cases = [
        "<rss a=\"………………\"><channel/></rss>",
        "<rss title=\"أخبار…\"><channel/></rss>",
        "<rss verےےےےےےے0\"><channel/></rss>",
    ];
    for input in cases {
        assert!(repair(input).contains("version=\"2.0\""), "{input}");
    }
}

#[test]
fn clean_text_is_borrowed() {
    let text = "<!-- c -->\n<rss version=\"2.0\"><channel><title>a &amp; b</title></channel></rss>";
    assert!(matches!(repair(text), Cow::Borrowed(_)));
}

#[test]
fn declared_entities_expand_to_at_most_the_body_length() {
    let value = "x".repeat(10_000);
    let body = format!(
        "<!DOCTYPE rss [<!ENTITY e \"{value}\">]><rss version=\"2.0\"><channel><title>{}</title></channel></rss>",
        "&e;".repeat(2_000)
    );
    let repaired = repair(&body);
    assert!(
        repaired.len() <= 2 * body.len() + 8 * 2_000,
        "{} bytes from {}",
        repaired.len(),
        body.len()
    );
    // The first references are expanded, the rest kept as text.
    assert!(repaired.contains(&format!("<title>{value}")));
    assert!(repaired.contains("&amp;e;"));
}

#[test]
fn hostile_bodies_are_repaired_in_linear_time() {
    let cases = [
        (
            "atom_links_never_closed",
            format!(
                "<feed>{}</feed>",
                "<link rel=\"alternate\">x".repeat(40_000)
            ),
        ),
        (
            "atom_link_tags_never_ended",
            format!("<feed>{}</feed>", "<link ".repeat(60_000)),
        ),
        (
            "atom_links_sharing_one_end_tag",
            format!("<feed>{}</link></feed>", "<link>a".repeat(60_000)),
        ),
        (
            "atom03_titles_never_closed",
            format!(
                "<feed version=\"0.3\" xmlns=\"http://purl.org/atom/ns#\">{}</feed>",
                "<title>a<b>".repeat(40_000)
            ),
        ),
        (
            "atom03_titles_sharing_one_end_tag",
            format!(
                "<feed version=\"0.3\" xmlns=\"http://purl.org/atom/ns#\">{}</title></feed>",
                "<title>a".repeat(60_000)
            ),
        ),
        (
            "entity_declarations_never_closed",
            format!(
                "<!DOCTYPE feed [{}]><feed>&a;</feed>",
                "<!ENTITY a \"".repeat(40_000)
            ),
        ),
        (
            "many_declared_entities_and_references",
            format!(
                "<!DOCTYPE feed [{}]><feed>{}</feed>",
                (0..5_000)
                    .map(|i| format!("<!ENTITY e{i} \"v\">"))
                    .collect::<String>(),
                (0..5_000).map(|i| format!("&e{i};")).collect::<String>()
            ),
        ),
    ];
    for (name, body) in cases {
        let started = std::time::Instant::now();
        let _ = repair(&body);
        let took = started.elapsed();
        assert!(took < std::time::Duration::from_secs(2), "{name}: {took:?}");
    }
}
