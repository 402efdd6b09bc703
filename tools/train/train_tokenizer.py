#!/usr/bin/env python3
"""Train the demo model's byte-level BPE tokenizer (Hugging Face `tokenizers`) on train.txt.

Vocabulary: 4096 ids = 2 special tokens (<|endoftext|> = 0, <|pad|> = 1) + 256 byte symbols +
3838 merges. GPT-2 style: ByteLevel pre-tokenizer (no prefix space), ByteLevel decoder, no
normaliser, so every byte string round-trips exactly. Training on the same train.txt gives the same
tokenizer.json byte for byte (BPE training is deterministic; RAYON_NUM_THREADS=1 is set anyway).

<|endoftext|> is bos, eos and document separator; <|pad|> is only padding (the model's
pad_token_id; its embedding row stays zero and it is never trained on).

Output (in --out, default tools/train/data/): tokenizer.json, tokenizer_config.json,
special_tokens_map.json.

Usage:  python3 tools/train/train_tokenizer.py [--data DIR] [--out DIR] [--vocab 4096]
"""
import argparse
import hashlib
import json
import os

os.environ.setdefault("RAYON_NUM_THREADS", "1")

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers  # noqa: E402

SPECIALS = ["<|endoftext|>", "<|pad|>"]
# A plain chat template: the model was never trained on dialogue, so "chat" just lays the turns
# out as text; it exists so chat-style front ends have something to call.
CHAT_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}{{ message['content'] }}\n{% endfor %}"
)


def blocks(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    return [b for b in text.split("\n\n") if b.strip()]


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=os.path.join(here, "data"))
    ap.add_argument("--out", default=None, help="default: --data")
    ap.add_argument("--vocab", type=int, default=4096)
    args = ap.parse_args()
    out = args.out or args.data

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=args.vocab,
        min_frequency=2,
        special_tokens=SPECIALS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(blocks(os.path.join(args.data, "train.txt")), trainer=trainer)
    assert tok.token_to_id("<|endoftext|>") == 0 and tok.token_to_id("<|pad|>") == 1
    assert tok.get_vocab_size() == args.vocab, tok.get_vocab_size()

    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, "tokenizer.json")
    tok.save(path)
    cfg = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": "<|endoftext|>",
        "eos_token": "<|endoftext|>",
        "unk_token": None,
        "pad_token": "<|pad|>",
        "add_bos_token": False,
        "add_eos_token": False,
        "clean_up_tokenization_spaces": False,
        "model_max_length": 1024,
        "chat_template": CHAT_TEMPLATE,
    }
    with open(os.path.join(out, "tokenizer_config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")
    with open(os.path.join(out, "special_tokens_map.json"), "w") as f:
        json.dump({"bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>", "pad_token": "<|pad|>"}, f, indent=2)
        f.write("\n")

    # Report: size, compression, round trip.
    val = "\n\n".join(blocks(os.path.join(args.data, "val.txt")))
    ids = tok.encode(val).ids
    assert tok.decode(ids) == val, "round trip failed"
    with open(path, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    print(f"vocab {tok.get_vocab_size()}; val: {len(val)} bytes -> {len(ids)} tokens "
          f"({len(val) / len(ids):.2f} bytes/token); tokenizer.json sha256 {digest}")
    print("sample:", [tok.id_to_token(i) for i in tok.encode("In the beginning God created the heaven").ids])


if __name__ == "__main__":
    main()
