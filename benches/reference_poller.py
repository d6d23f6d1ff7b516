#!/usr/bin/env python3
"""The reference for the feed farm: what a simple user script does with aiohttp, feedparser and
pyahocorasick, so that rasad's cycles can be compared with it on the same machine and farm.

Install (Python 3.11) with:

    pip install aiohttp feedparser pyahocorasick

Usage:

    python3 benches/reference_poller.py URLS_FILE [--keyword WORD ...] [--concurrency 64]

URLS_FILE holds one feed URL a line. The script fetches every feed concurrently with a
conditional GET (ETag and Last-Modified kept in memory), parses each body with feedparser, folds
Arabic with a few str.translate rules, matches the keywords with an Aho-Corasick automaton over
title and summary, and prints one JSON line for the cycle: wall and CPU time (of this process,
all threads), peak RSS, statuses, bytes read, items parsed and items matched. It then waits for a
line on stdin and runs a second cycle with the validators of the first (end of input stops it
instead). `examples/feedfarm.rs --reference` drives it that way.

Every request has a timeout; the script talks only to the URLs it is given.
"""

import asyncio
import json
import resource
import sys
import time

import ahocorasick
import aiohttp
import feedparser

# The watch keywords of the feed farm's config.
DEFAULT_KEYWORDS = ["داعش", "تنظيم الدولة", "التحالف الدولي"]

# A few folding rules of the kind a user writes: hamza forms of alef to bare alef, alef maqsura
# to ya, ta marbuta to ha, and tatweel and the harakat removed.
FOLD = str.maketrans(
    {
        "أ": "ا",
        "إ": "ا",
        "آ": "ا",
        "ٱ": "ا",
        "ى": "ي",
        "ة": "ه",
        "ـ": None,
        **{chr(c): None for c in range(0x064B, 0x0653)},
    }
)


def fold(text):
    return text.translate(FOLD)


def automaton(keywords):
    matcher = ahocorasick.Automaton()
    for keyword in keywords:
        matcher.add_word(fold(keyword), keyword)
    matcher.make_automaton()
    return matcher


async def fetch(session, url, validators):
    """One conditional GET: (status, body or None, response headers)."""
    headers = {}
    etag, modified = validators.get(url, (None, None))
    if etag:
        headers["If-None-Match"] = etag
    if modified:
        headers["If-Modified-Since"] = modified
    try:
        async with session.get(url, headers=headers) as response:
            if response.status == 304:
                return 304, None, {}
            body = await response.read()
            if response.status == 200:
                validators[url] = (
                    response.headers.get("ETag"),
                    response.headers.get("Last-Modified"),
                )
            return response.status, body, dict(response.headers)
    except (aiohttp.ClientError, asyncio.TimeoutError):
        return "error", None, {}


def matched_items(body, headers, matcher):
    """Items parsed and items whose folded title or summary holds a keyword."""
    parsed = feedparser.parse(body, response_headers={k.lower(): v for k, v in headers.items()})
    matched = 0
    for entry in parsed.entries:
        text = fold(entry.get("title", "") + "\n" + entry.get("summary", ""))
        if next(matcher.iter(text), None) is not None:
            matched += 1
    return len(parsed.entries), matched


async def cycle(session, urls, validators, matcher, concurrency):
    wall, cpu = time.perf_counter(), time.process_time()
    statuses, read, items, matched = {}, 0, 0, 0
    gate = asyncio.Semaphore(concurrency)

    async def one(url):
        nonlocal read, items, matched
        async with gate:
            status, body, headers = await fetch(session, url, validators)
        statuses[str(status)] = statuses.get(str(status), 0) + 1
        if body is not None and status == 200:
            read += len(body)
            parsed, hits = matched_items(body, headers, matcher)
            items += parsed
            matched += hits

    await asyncio.gather(*(one(url) for url in urls))
    return {
        "wall_s": round(time.perf_counter() - wall, 3),
        "cpu_s": round(time.process_time() - cpu, 3),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1000, 1),
        "statuses": statuses,
        "bytes": read,
        "items": items,
        "matched": matched,
    }


async def main(path, keywords, concurrency):
    with open(path, encoding="utf-8") as lines:
        urls = [line.strip() for line in lines if line.strip()]
    matcher = automaton(keywords)
    validators = {}
    timeout = aiohttp.ClientTimeout(total=60)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        for number in (1, 2):
            if number == 2:
                line = await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
                if not line:
                    return
            result = await cycle(session, urls, validators, matcher, concurrency)
            print(json.dumps({"cycle": number, **result}), flush=True)


def arguments(argv):
    if not argv or argv[0].startswith("-"):
        sys.exit(__doc__)
    path, keywords, concurrency = argv[0], [], 64
    rest = iter(argv[1:])
    for flag in rest:
        value = next(rest, None)
        if value is None:
            sys.exit(f"{flag} needs a value")
        if flag == "--keyword":
            keywords.append(value)
        elif flag == "--concurrency":
            concurrency = int(value)
        else:
            sys.exit(f"unknown option {flag}")
    return path, keywords or DEFAULT_KEYWORDS, concurrency


if __name__ == "__main__":
    asyncio.run(main(*arguments(sys.argv[1:])))
