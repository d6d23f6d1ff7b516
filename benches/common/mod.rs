//! What the benchmarks share: the vocabulary their generated stories are written in.

/// The vocabulary: the words of `../shared/samples/dedup/dev.jsonl` (real Arabic titles and
/// summaries) when it is there, else generated words.
pub fn vocabulary() -> Vec<String> {
    let mut words: Vec<String> = std::fs::read_to_string("../shared/samples/dedup/dev.jsonl")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .flat_map(|v| {
            format!(
                "{} {}",
                v["title"].as_str().unwrap_or_default(),
                v["summary"].as_str().unwrap_or_default()
            )
            .split_whitespace()
            .map(str::to_owned)
            .collect::<Vec<_>>()
        })
        .collect();
    words.sort();
    words.dedup();
    if words.len() < 1000 {
        words = (0..5000).map(|i| format!("كلمة{i}")).collect();
    }
    words
}
