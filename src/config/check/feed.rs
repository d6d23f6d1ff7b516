//! Checks of the `[[feed]]` tables: ids, URLs and poll intervals.

use super::*;

impl Checker<'_> {
    pub(super) fn feeds(&mut self, raw: &RawConfig, default_interval: Duration) -> Vec<Feed> {
        let mut seen = HashSet::new();
        let mut feeds = Vec::new();
        for (i, feed) in raw.feed.iter().enumerate() {
            let at = format!("feed[{}]", i + 1);
            let feed = feed.get_ref();
            self.id(&format!("{at}.id"), &feed.id, &mut seen);
            let url = self.url(&format!("{at}.url"), &feed.url, &["http", "https", "file"]);
            let interval =
                self.duration(&format!("{at}.interval"), &feed.interval, default_interval);
            if let Some(url) = url {
                let id = feed.id.get_ref().clone();
                let name = feed.name.clone().unwrap_or_else(|| id.clone());
                feeds.push(Feed {
                    id,
                    name,
                    url,
                    interval,
                });
            }
        }
        feeds
    }
}
