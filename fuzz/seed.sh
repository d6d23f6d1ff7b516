#!/bin/sh
# Copies seed inputs for each fuzz target into corpus/<target>/ (not committed): feeds from the
# feedparser peer suite and the samples, keyword/text pairs from the Arabic matching samples,
# dates, and the configs. Run from anywhere; SHARED defaults to ../../shared beside the repo.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
shared=${SHARED:-$here/../../shared}
corpus=$here/corpus
mkdir -p "$corpus/parse" "$corpus/dates" "$corpus/fold" "$corpus/matcher" "$corpus/config" "$corpus/render"

# Feeds: every file of the peer suite and the sample feeds, named by their path.
find "$shared/peer-suites/feedparser/files" "$shared/samples/feeds" -type f \( -name '*.xml' -o -name '*.rdf' -o -name '*.json' -o -name '*.atom' -o -name '*.rss' \) |
while read -r file; do
    cp "$file" "$corpus/parse/$(echo "$file" | sed 's|.*/files/||; s|.*/samples/||; s|/|_|g')"
done

# Keyword + text pairs and texts from the matching samples (one file per line).
python3 - "$shared/samples/arabic-match/dev.jsonl" "$corpus" <<'PY'
import json, sys, pathlib
source, corpus = sys.argv[1], pathlib.Path(sys.argv[2])
for i, line in enumerate(open(source, encoding="utf-8")):
    case = json.loads(line)
    keyword, text = case.get("keyword", ""), case.get("text", "")
    (corpus / "matcher" / f"{i:04}").write_text(f"{keyword}\n\n{text}", encoding="utf-8")
    (corpus / "fold" / f"{i:04}").write_text(text, encoding="utf-8")
    (corpus / "render" / f"{i:04}").write_text(f"{keyword}\n{text}", encoding="utf-8")
PY

# Dates as feeds write them.
i=0
for date in "Sun, 29 Nov 2026 08:00:00 GMT" "2026-11-29T08:00:00+03:00" "الأحد، ١٢ مايو ٢٠٢٤ ١٠:٠٠ AST" \
    "12/05/2024 10:00" "كانون الثاني 5, 2024 3:00 م" "Mon, 5 Jan 2024 10:00:00 +0300" "2024-05" \
    "Sun May 12 10:00:00 2024" "12.05.2024 24:00 GMT+3"; do
    printf '%s' "$date" > "$corpus/dates/$i"
    i=$((i + 1))
done

cp "$here/../config/"*.toml "$corpus/config/"
echo "seeded: $(find "$corpus" -type f | wc -l) files in $corpus"
