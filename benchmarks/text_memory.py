"""Peak memory of loading a character corpus, per input character.

    python benchmarks/text_memory.py [--megabytes 30] [--file PATH]

Writes (or reads) a text of that size, loads it as `data=text data.level=char` would, and prints the
peak of Python and numpy allocations (tracemalloc) and the growth of the process's peak resident
memory, each divided by the number of characters.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
import tracemalloc
from pathlib import Path

from common import ROOT  # noqa: F401 - puts the project on the path

from datamodules.text_files import TextFileDataModule


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--megabytes", type=float, default=30)
    parser.add_argument("--file", type=Path)
    args = parser.parse_args()
    path = args.file
    if path is None:
        path = Path(tempfile.mkdtemp()) / "corpus.txt"
        line = "It was the best of times, it was the worst of times; it was the age of wisdom (1859).\n"
        path.write_text(line * int(args.megabytes * 1e6 / len(line)))
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    tracemalloc.start()
    start = time.perf_counter()
    data = TextFileDataModule(path=str(path), level="char")
    data.setup()
    seconds = time.perf_counter() - start
    traced_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    rss_growth = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - rss_before
    chars = sum(len(stream) for stream in data.streams.values())
    print(f"{path}: {chars:,} characters, vocabulary {len(data.vocab)}, loaded in {seconds:.1f} s")
    print(f"peak traced allocations {traced_peak / chars:5.2f} bytes/char")
    print(f"peak resident growth    {rss_growth / chars:5.2f} bytes/char")


if __name__ == "__main__":
    main()
