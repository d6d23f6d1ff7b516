//! Checks of the `[[topic]]` tables: ids, keyword lists with their options, fields and the
//! channels they notify.

use super::raw::{RawKeyword, RawTopic};
use super::*;
use crate::matcher::{KeywordOptions, KeywordSpec, Prefixes, Suffixes};

impl Checker<'_> {
    pub(super) fn topics(&mut self, raw: &RawConfig, channels: &[Channel]) -> Vec<Topic> {
        let mut seen = HashSet::new();
        let mut topics = Vec::new();
        for (i, spanned) in raw.topic.iter().enumerate() {
            let at = format!("topic[{}]", i + 1);
            let topic: &RawTopic = spanned.get_ref();
            self.id(&format!("{at}.id"), &topic.id, &mut seen);
            let any_span = topic.any.as_ref().map_or(spanned.span(), |a| a.span());
            let any = match &topic.any {
                Some(list) => self.keywords(&format!("{at}.any"), list.get_ref()),
                None => Vec::new(),
            };
            if any.is_empty() {
                self.problem(format!("{at}.any"), any_span, "needs at least one keyword");
            }
            let all = self.keywords(&format!("{at}.all"), &topic.all);
            let none = self.keywords(&format!("{at}.none"), &topic.none);
            let fields = self.fields(&at, &topic.fields);
            for (j, channel) in topic.notify.iter().enumerate() {
                if !channels.iter().any(|c| &c.id == channel.get_ref())
                    && !self.channel_declared(raw, channel.get_ref())
                {
                    self.problem(
                        format!("{at}.notify[{}]", j + 1),
                        channel.span(),
                        format!("unknown channel {:?}", channel.get_ref()),
                    );
                }
            }
            let id = topic.id.get_ref().clone();
            topics.push(Topic {
                name: topic.name.clone().unwrap_or_else(|| id.clone()),
                id,
                any,
                all,
                none,
                fields,
                notify: topic.notify.iter().map(|c| c.get_ref().clone()).collect(),
            });
        }
        topics
    }

    /// Every keyword of a list, aliases included, in order: a string, or a table
    /// `{ term, aliases, suffixes, prefixes, case_sensitive, name }`.
    fn keywords(&mut self, at: &str, raw: &[RawKeyword]) -> Vec<KeywordSpec> {
        let mut out = Vec::new();
        for (i, keyword) in raw.iter().enumerate() {
            let path = format!("{at}[{}]", i + 1);
            let span = keyword.span();
            let mut terms = Vec::new();
            let mut options = KeywordOptions::default();
            match keyword.get_ref() {
                toml::Value::String(term) => terms.push(term.clone()),
                toml::Value::Table(table) => {
                    for (key, value) in table {
                        match (key.as_str(), value) {
                            ("term", toml::Value::String(term)) => terms.insert(0, term.clone()),
                            ("aliases", toml::Value::Array(aliases)) => {
                                for alias in aliases {
                                    match alias.as_str() {
                                        Some(alias) => terms.push(alias.to_owned()),
                                        None => self.problem(format!("{path}.aliases"), span.clone(), "must be a list of strings"),
                                    }
                                }
                            }
                            ("suffixes", toml::Value::String(v)) => match v.as_str() {
                                "default" => options.suffixes = Some(Suffixes::Default),
                                "none" => options.suffixes = Some(Suffixes::None),
                                "pronouns-only" => options.suffixes = Some(Suffixes::PronounsOnly),
                                other => self.problem(format!("{path}.suffixes"), span.clone(), format!("{other:?} must be default, none or pronouns-only")),
                            },
                            ("prefixes", toml::Value::String(v)) => match v.as_str() {
                                "default" => options.prefixes = Some(Prefixes::Default),
                                "article-only" => options.prefixes = Some(Prefixes::ArticleOnly),
                                "none" => options.prefixes = Some(Prefixes::None),
                                other => self.problem(format!("{path}.prefixes"), span.clone(), format!("{other:?} must be default, article-only or none")),
                            },
                            ("case_sensitive", toml::Value::Boolean(b)) => options.case_sensitive = *b,
                            ("name", toml::Value::Boolean(b)) => options.name = *b,
                            ("term" | "aliases" | "suffixes" | "prefixes" | "case_sensitive" | "name", other) => {
                                self.problem(format!("{path}.{key}"), span.clone(), format!("has the wrong type ({})", other.type_str()));
                            }
                            (unknown, _) => self.problem(
                                format!("{path}.{unknown}"),
                                span.clone(),
                                "unknown keyword option (term, aliases, suffixes, prefixes, case_sensitive, name)",
                            ),
                        }
                    }
                    if !table.contains_key("term") {
                        self.problem(
                            format!("{path}.term"),
                            span.clone(),
                            "a keyword table needs a term",
                        );
                    }
                }
                other => self.problem(
                    path.clone(),
                    span.clone(),
                    format!("must be a string or a table, not a {}", other.type_str()),
                ),
            }
            for term in terms {
                if !crate::text::fold_str(&term)
                    .chars()
                    .any(crate::text::is_word_char)
                {
                    self.problem(
                        path.clone(),
                        span.clone(),
                        format!("keyword {term:?} is empty once folded"),
                    );
                    continue;
                }
                out.push(KeywordSpec {
                    term,
                    options: options.clone(),
                });
            }
        }
        out
    }

    /// The fields a topic searches: all of them unless listed.
    fn fields(&mut self, at: &str, raw: &Option<Spanned<Vec<Str>>>) -> Vec<Field> {
        let Some(raw) = raw else {
            return Field::ALL.to_vec();
        };
        let mut fields = Vec::new();
        for (j, name) in raw.get_ref().iter().enumerate() {
            match Field::ALL
                .into_iter()
                .find(|f| f.as_str() == name.get_ref())
            {
                Some(field) => fields.push(field),
                None => self.problem(
                    format!("{at}.fields[{}]", j + 1),
                    name.span(),
                    format!("{:?} must be title, summary or content", name.get_ref()),
                ),
            }
        }
        if fields.is_empty() {
            self.problem(
                format!("{at}.fields"),
                raw.span(),
                "names no field; leave it out to search all of them",
            );
        }
        fields
    }
}
