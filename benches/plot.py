#!/usr/bin/env python3
"""Draws the two plots of BENCHMARKS.md from the saved output of the benches:

    cargo bench --bench matcher | tee target/bench-matcher.txt
    for n in 500 2000 10000; do
        cargo run --release --example feedfarm -- --feeds $n --reference benches/reference_poller.py \
            | tee target/farm-$n.txt
    done
    python3 benches/plot.py target/bench-matcher.txt target/farm-*.txt --out docs

It reads the lines those programs print ("matcher/N keywords (...): rasad X MB/s, raw
aho-corasick Y MB/s, ratio R" and the feed farm's "first cycle: wall W s, CPU C s, ..." and
"reference first cycle: {json}") and writes docs/bench-matcher.png (throughput against keyword
count) and docs/bench-farm.png (cycle CPU time against feed count, rasad and the Python
reference). Needs matplotlib (pip install matplotlib).
"""

import argparse
import json
import re
import sys

MATCHER = re.compile(
    r"matcher/(\d+) keywords .*?: rasad (\d+) MB/s, raw aho-corasick (\d+) MB/s, ratio ([\d.]+)"
)
FARM_SIZE = re.compile(r"^(\d+) feeds, ([\d.]+) MB")
RASAD_CYCLE = re.compile(r"^(first|second) cycle: wall ([\d.]+) s, CPU ([\d.]+) s, peak RSS ([\d.]+) MB")
REFERENCE_CYCLE = re.compile(r"^reference (first|second) cycle: (\{.*\})")


def read(paths):
    matcher, farms = {}, {}
    for path in paths:
        feeds = None
        with open(path, encoding="utf-8") as f:
            for line in f:
                line = line.strip()
                if m := MATCHER.search(line):
                    n = int(m.group(1))
                    matcher[n] = (float(m.group(2)), float(m.group(3)), float(m.group(4)))
                elif m := FARM_SIZE.match(line):
                    feeds = int(m.group(1))
                    farms.setdefault(feeds, {})
                elif feeds is not None and (m := RASAD_CYCLE.match(line)):
                    farms[feeds][("rasad", m.group(1))] = (float(m.group(2)), float(m.group(3)))
                elif feeds is not None and (m := REFERENCE_CYCLE.match(line)):
                    figures = json.loads(m.group(2))
                    farms[feeds][("reference", m.group(1))] = (figures["wall_s"], figures["cpu_s"])
    return matcher, farms


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("files", nargs="+", help="saved output of the matcher bench and feed farm")
    parser.add_argument("--out", default="docs", help="folder for the PNG files")
    args = parser.parse_args()
    matcher, farms = read(args.files)
    if not matcher and not farms:
        sys.exit("plot.py: no bench or farm figures found in " + ", ".join(args.files))
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if matcher:
        counts = sorted(matcher)
        fig, ax = plt.subplots(figsize=(6, 4))
        ax.plot(counts, [matcher[n][0] for n in counts], "o-", label="rasad: fold + match + validate")
        ax.plot(counts, [matcher[n][1] for n in counts], "s--", label="raw aho-corasick, pre-folded text")
        for n in counts:
            ax.annotate(f"{matcher[n][2]:.2f}×", (n, matcher[n][0]), textcoords="offset points", xytext=(0, -14), ha="center")
        ax.set_xscale("log")
        ax.set_xlabel("keywords")
        ax.set_ylabel("MB/s (Arabic news text)")
        ax.set_title("Matcher throughput against keyword count")
        ax.set_ylim(bottom=0)
        ax.legend()
        fig.tight_layout()
        fig.savefig(f"{args.out}/bench-matcher.png", dpi=110)
        print(f"wrote {args.out}/bench-matcher.png")
    if farms:
        sizes = sorted(farms)
        fig, ax = plt.subplots(figsize=(6, 4))
        for who, style in [("rasad", "o-"), ("reference", "s--")]:
            for cycle in ["first", "second"]:
                points = [(n, farms[n][(who, cycle)][1]) for n in sizes if (who, cycle) in farms[n]]
                if points:
                    name = "Python reference" if who == "reference" else "rasad"
                    ax.plot(*zip(*points), style, label=f"{name}, {cycle} cycle")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("feeds (80 KB, 30 items each)")
        ax.set_ylabel("CPU seconds per cycle")
        ax.set_title("Feed farm: cycle CPU time against feed count")
        ax.legend()
        fig.tight_layout()
        fig.savefig(f"{args.out}/bench-farm.png", dpi=110)
        print(f"wrote {args.out}/bench-farm.png")


if __name__ == "__main__":
    main()
