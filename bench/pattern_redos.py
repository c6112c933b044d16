"""Time hostile file-name patterns: the old backtracking regex against core.ingest.metadata's matcher.

Usage: python bench/pattern_redos.py  (prints a markdown table; results in
bench/results/pattern-redos.md). The old regex is timed with fewer '*a' pieces than the new
matcher because each extra piece multiplies its time by about the name length / pieces.
"""

from __future__ import annotations

import re
import time

from core.ingest.metadata import from_pattern

NAME = "a" * 44  # one 44-character name, as in the probe's report


def old_regex(pattern: str) -> re.Pattern[str]:
    """The regex core.ingest.metadata compiled before (a '*' became '[^/]*')."""
    return re.compile("".join("[^/]*" if c == "*" else re.escape(c) for c in pattern))


def seconds(fn, *args) -> float:
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


def main() -> None:
    print("| pattern | names | old regex (s) | new matcher (s) |")
    print("|---|---|---|---|")
    for stars in (4, 5, 6, 7):
        pattern = "*a" * stars + "*b.wav"
        old = seconds(old_regex(pattern).fullmatch, NAME)
        new = seconds(from_pattern(pattern), NAME)
        print(f"| `{pattern}` | 1 | {old:.4f} | {new:.6f} |")
    names = [NAME + f"{i}" for i in range(10_000)]
    for stars in (10, 40):
        pattern = "*a" * stars + "*b.wav"
        lookup = from_pattern(pattern)
        new = seconds(lambda fn=lookup: [fn(n) for n in names])
        print(f"| `*a` x {stars} + `*b.wav` | 10 000 | not run | {new:.3f} |")
    # names that end right, so the middle pieces are searched before the missing 'c' fails
    names = [NAME + f"{i}b.wav" for i in range(10_000)]
    pattern = "*a" * 40 + "*c*b.wav"
    lookup = from_pattern(pattern)
    new = seconds(lambda fn=lookup: [fn(n) for n in names])
    print(f"| `*a` x 40 + `*c*b.wav`, names end in `b.wav` | 10 000 | not run | {new:.3f} |")


if __name__ == "__main__":
    main()
