#!/usr/bin/env python3
"""Fetch the King James Bible from Debian and write a deterministic train/val split.

Source: Debian packages `bible-kjv-text` (the compressed text, public domain) and `bible-kjv`
(the `bible` reader program, GPL-2+), version 4.38 in Debian bookworm. They are fetched with
`apt-get download` (no root needed for the download itself), unpacked with `dpkg -x` into the work
folder (nothing is installed), and the reader dumps the whole text, Genesis 1:1 to Revelation 22:21.

Output (in --out, default tools/train/data/):
  train.txt, val.txt   one chapter per block, blocks separated by one blank line; a block is the
                       heading line ("Genesis 1") followed by one verse per line, verse numbers
                       dropped, whitespace collapsed; nothing else is changed.
  corpus.json          counts and SHA-256 of both files.

Split: the 1,189 chapters in canonical order, chapter i (0-based) goes to val when i % 50 == 49
(23 chapters, about 2% of the text), to train otherwise. No randomness is involved.

Usage:  python3 tools/train/prepare_corpus.py [--out DIR] [--deb-dir DIR]
"""
import argparse
import glob
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile

PACKAGES = ["bible-kjv-text", "bible-kjv"]
VAL_EVERY = 50  # chapter i -> val when i % VAL_EVERY == VAL_EVERY - 1


def fetch_debs(deb_dir):
    os.makedirs(deb_dir, exist_ok=True)
    have = {p: glob.glob(os.path.join(deb_dir, f"{p}_*.deb")) for p in PACKAGES}
    missing = [p for p in PACKAGES if not have[p]]
    if missing:
        print(f"apt-get download {' '.join(missing)}  (into {deb_dir})", file=sys.stderr)
        subprocess.run(["apt-get", "download", *missing], cwd=deb_dir, check=True)
    debs = []
    for p in PACKAGES:
        found = sorted(glob.glob(os.path.join(deb_dir, f"{p}_*.deb")))
        if not found:
            sys.exit(f"no {p}_*.deb in {deb_dir}")
        debs.append(found[-1])
    return debs


def dump_bible(debs, work):
    for d in debs:
        subprocess.run(["dpkg", "-x", d, work], check=True)
    reader = os.path.join(work, "usr", "bin", "bible")
    datapath = os.path.join(work, "usr", "lib")
    out = subprocess.run(
        [reader, "-p", datapath, "-l100000", "Gen1:1-Rev22:21"],
        check=True, capture_output=True, text=True, encoding="ascii",
    ).stdout
    return out


def parse(dump):
    """-> list of (heading, [verse text, ...]) in canonical order."""
    chapters = []
    heading_re = re.compile(r"^([1-3]?\s?[A-Za-z][A-Za-z ]*?) (\d+)$")
    verse_re = re.compile(r"^\s+(\d+) (.*)$")
    for line in dump.splitlines():
        if not line.strip():
            continue
        m = verse_re.match(line)
        if m:
            if not chapters:
                sys.exit(f"verse before any heading: {line!r}")
            n = int(m.group(1))
            verses = chapters[-1][1]
            if n != len(verses) + 1:
                sys.exit(f"verse {n} out of order in {chapters[-1][0]}")
            verses.append(" ".join(m.group(2).split()))
            continue
        m = heading_re.match(line.strip())
        if m:
            chapters.append((line.strip(), []))
            continue
        sys.exit(f"unrecognised line: {line!r}")
    return chapters


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(here, "data"))
    ap.add_argument("--deb-dir", default=None, help="folder holding (or receiving) the .deb files")
    args = ap.parse_args()
    deb_dir = args.deb_dir or os.path.join(args.out, "debs")
    debs = fetch_debs(deb_dir)
    with tempfile.TemporaryDirectory() as work:
        dump = dump_bible(debs, work)
    chapters = parse(dump)
    n_verses = sum(len(v) for _, v in chapters)
    if len(chapters) != 1189 or n_verses != 31102:
        sys.exit(f"unexpected corpus: {len(chapters)} chapters, {n_verses} verses")
    train, val = [], []
    for i, (head, verses) in enumerate(chapters):
        block = head + "\n" + "\n".join(verses)
        (val if i % VAL_EVERY == VAL_EVERY - 1 else train).append(block)
    os.makedirs(args.out, exist_ok=True)
    info = {"source": {"packages": [os.path.basename(d) for d in debs]},
            "chapters": len(chapters), "verses": n_verses, "val_rule": f"chapter index % {VAL_EVERY} == {VAL_EVERY - 1}"}
    for name, blocks in (("train", train), ("val", val)):
        text = "\n\n".join(blocks) + "\n"
        path = os.path.join(args.out, f"{name}.txt")
        with open(path, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
        info[name] = {"chapters": len(blocks), "bytes": len(text.encode()),
                      "sha256": hashlib.sha256(text.encode()).hexdigest()}
        print(f"{name}: {len(blocks)} chapters, {len(text)} bytes -> {path}")
    with open(os.path.join(args.out, "corpus.json"), "w") as f:
        json.dump(info, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
