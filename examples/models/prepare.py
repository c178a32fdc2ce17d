#!/usr/bin/env python3
"""Corpus and tokenizer for arx's bundled demo models.

Dumps the King James Bible from Debian's bible-kjv program (package bible-kjv, text in
bible-kjv-text; public domain), writes one chapter per line (verses joined by a space), keeps
every 60th chapter apart as held-out text, and trains a 2048-piece SentencePiece BPE vocabulary
on the rest with Llama's conventions (ids 0/1/2 = <unk>/<s>/</s>, byte fallback, a space
prefix, no normalization), so llama.cpp and arx read the tokenizer from the GGUF file as they
read Llama 2's.

  python3 prepare.py --work WORK_DIR      # writes WORK_DIR/{train.txt, tokenizer.model}
                                          # and heldout.txt beside this script
"""
import argparse
import os
import re
import subprocess

import sentencepiece as spm

HERE = os.path.dirname(os.path.abspath(__file__))
HELD_OUT_EVERY = 60  # chapter k is held out when k % 60 == 30: 20 of the 1189 chapters
VOCAB = 2048


def chapters():
    """[(book, chapter, [verse text, ...]), ...] in canonical order."""
    out = subprocess.run(["bible", "-f", "Gen1:1-Rev22:21"], check=True, capture_output=True,
                         text=True).stdout
    verse_re = re.compile(r"^([1-3]?[A-Za-z]+)(\d+):(\d+) (.*)$")
    result = []
    for line in out.splitlines():
        m = verse_re.match(line)
        if not m:
            raise SystemExit(f"prepare.py: unexpected line from bible: {line!r}")
        book, chap, text = m.group(1), int(m.group(2)), m.group(4).strip()
        if not result or result[-1][0] != book or result[-1][1] != chap:
            result.append((book, chap, []))
        result[-1][2].append(text)
    return result


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--work", required=True, help="folder for train.txt and tokenizer.model")
    args = ap.parse_args()
    os.makedirs(args.work, exist_ok=True)

    chs = chapters()
    n_verses = sum(len(v) for _, _, v in chs)
    if len(chs) != 1189 or n_verses != 31102:
        raise SystemExit(f"prepare.py: expected 1189 chapters and 31102 verses, got {len(chs)} "
                         f"and {n_verses}")
    train, held = [], []
    for k, (_, _, verses) in enumerate(chs):
        (held if k % HELD_OUT_EVERY == HELD_OUT_EVERY // 2 else train).append(" ".join(verses))
    with open(os.path.join(args.work, "train.txt"), "w") as f:
        f.write("\n".join(train) + "\n")
    with open(os.path.join(HERE, "heldout.txt"), "w") as f:
        f.write("\n".join(held) + "\n")
    print(f"{len(train)} training chapters, {len(held)} held-out chapters")

    spm.SentencePieceTrainer.train(
        input=os.path.join(args.work, "train.txt"),
        model_prefix=os.path.join(args.work, "tokenizer"),
        model_type="bpe", vocab_size=VOCAB, character_coverage=1.0, byte_fallback=True,
        normalization_rule_name="identity", add_dummy_prefix=True, remove_extra_whitespaces=False,
        split_digits=True, unk_id=0, bos_id=1, eos_id=2, pad_id=-1, max_sentence_length=1 << 16,
        num_threads=2, minloglevel=2)
    sp = spm.SentencePieceProcessor(model_file=os.path.join(args.work, "tokenizer.model"))
    for name in ("train.txt",):
        n = len(sp.encode(open(os.path.join(args.work, name)).read()))
        print(f"{name}: {n} tokens")
    print(f"heldout.txt: {len(sp.encode(open(os.path.join(HERE, 'heldout.txt')).read()))} tokens")


if __name__ == "__main__":
    main()
