//! `parse` (decode, repair, feed-rs with our date reader, fill-in) against bare feed-rs on the
//! same bodies in the same run: clean UTF-8 RSS, windows-1256 RSS and Atom. Prints the ratio;
//! the target is at most 1.25 on clean UTF-8.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use rasad::source::parse::{BodyHints, parse_feed_with};

const ITEMS: usize = 50;

/// An Arabic news RSS 2.0 feed as WordPress writes it: CDATA descriptions and content, dates,
/// guids, `dc:creator`.
fn rss(encoding: &str) -> String {
    let mut body = format!(
        "<?xml version=\"1.0\" encoding=\"{encoding}\"?>\n<rss version=\"2.0\" xmlns:content=\"http://purl.org/rss/1.0/modules/content/\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\">\n<channel><title>أخبار المنطقة</title><link>https://outlet.example/</link><description>آخر الأخبار</description><language>ar</language>\n"
    );
    for i in 0..ITEMS {
        body.push_str(&format!(
            "<item><title>غارات جوية على مواقع في شمال البلاد والتحالف يعلن نتائج العملية {i}</title>\
             <link>https://outlet.example/news/{i}?utm_source=rss&amp;utm_medium=feed</link>\
             <guid isPermaLink=\"false\">https://outlet.example/?p={i}</guid>\
             <pubDate>Sun, 29 Nov 2026 {:02}:{:02}:00 +0300</pubDate><dc:creator>المحرر</dc:creator>\
             <description><![CDATA[<p>قال مسؤول أمني إن قوات التحالف نفذت غارات على مواقع لتنظيم الدولة في المنطقة الشمالية، وأضاف أن العملية أسفرت عن مقتل عدد من المسلحين.</p>]]></description>\
             <content:encoded><![CDATA[<p>قال مسؤول أمني إن قوات التحالف نفذت غارات على مواقع لتنظيم الدولة.</p><p>وأضاف في بيان أن العملية استمرت عدة ساعات، وأن الطائرات استهدفت مخازن أسلحة ومراكز قيادة.</p><p>ولم يصدر تعليق فوري من التنظيم.</p>]]></content:encoded></item>\n",
            i % 24,
            i % 60
        ));
    }
    body.push_str("</channel></rss>\n");
    body
}

fn atom() -> String {
    let mut body = String::from(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\"><title>أخبار</title><id>tag:outlet.example,2026:feed</id><updated>2026-11-29T10:00:00Z</updated><link href=\"https://outlet.example/\"/>\n",
    );
    for i in 0..ITEMS {
        body.push_str(&format!(
            "<entry><title type=\"html\">بيان &lt;b&gt;التحالف&lt;/b&gt; رقم {i}</title><id>tag:outlet.example,2026:{i}</id>\
             <link rel=\"alternate\" href=\"https://outlet.example/{i}\"/><updated>2026-11-29T10:{:02}:00+03:00</updated>\
             <author><name>المحرر</name></author><summary type=\"html\">&lt;p&gt;قال مسؤول أمني إن قوات التحالف نفذت غارات على مواقع لتنظيم الدولة.&lt;/p&gt;</summary>\
             <content type=\"html\">&lt;p&gt;وأضاف في بيان أن العملية استمرت عدة ساعات، وأن الطائرات استهدفت مخازن أسلحة ومراكز قيادة.&lt;/p&gt;</content></entry>\n",
            i % 60
        ));
    }
    body.push_str("</feed>\n");
    body
}

fn inputs() -> Vec<(&'static str, Vec<u8>)> {
    let windows_1256 = encoding_rs::WINDOWS_1256
        .encode(&rss("windows-1256"))
        .0
        .to_vec();
    vec![
        ("clean_utf8_rss", rss("UTF-8").into_bytes()),
        ("windows_1256_rss", windows_1256),
        ("utf8_atom", atom().into_bytes()),
    ]
}

fn rasad_parse(body: &[u8]) -> usize {
    parse_feed_with(body, BodyHints::default())
        .map(|f| f.entries.len())
        .unwrap_or(0)
}

fn bare_feed_rs(body: &[u8]) -> usize {
    feed_rs::parser::parse(body)
        .map(|f| f.entries.len())
        .unwrap_or(0)
}

/// The ratio of the median times of `ours` and `theirs`, called alternately so that both see
/// the same machine load.
fn median_ratio(calls: usize, ours: impl Fn(), theirs: impl Fn()) -> f64 {
    let (mut a, mut b) = (Vec::with_capacity(calls), Vec::with_capacity(calls));
    for i in 0..calls {
        // Alternate which goes first, so that neither always runs on a warmer cache.
        let order: [(&dyn Fn(), &mut Vec<Duration>); 2] = if i % 2 == 0 {
            [(&ours, &mut a), (&theirs, &mut b)]
        } else {
            [(&theirs, &mut b), (&ours, &mut a)]
        };
        for (f, times) in order {
            let started = Instant::now();
            f();
            times.push(started.elapsed());
        }
    }
    a.sort();
    b.sort();
    a[calls / 2].as_secs_f64() / b[calls / 2].as_secs_f64()
}

fn bench_parse(c: &mut Criterion) {
    let mut ratios = Vec::new();
    for (name, body) in inputs() {
        assert_eq!(rasad_parse(&body), ITEMS, "{name}: rasad reads every item");
        assert_eq!(
            bare_feed_rs(&body),
            ITEMS,
            "{name}: feed-rs reads every item"
        );
        let mut group = c.benchmark_group(name);
        group.bench_function("rasad_parse", |b| b.iter(|| rasad_parse(black_box(&body))));
        group.bench_function("bare_feed_rs", |b| {
            b.iter(|| bare_feed_rs(black_box(&body)))
        });
        group.finish();
        let ratio = median_ratio(
            1000,
            || {
                black_box(rasad_parse(black_box(&body)));
            },
            || {
                black_box(bare_feed_rs(black_box(&body)));
            },
        );
        ratios.push((name, ratio));
    }
    for (name, ratio) in ratios {
        println!(
            "{name}: rasad parse / bare feed-rs = {ratio:.3} ({:+.1}%, median of 1000 alternated calls)",
            (ratio - 1.0) * 100.0
        );
    }
}

criterion_group!(benches, bench_parse);
criterion_main!(benches);
