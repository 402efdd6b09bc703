"""Builds tokenizer.json: a tiny byte-level BPE (300 tokens) for weft-ffi's C and Java tests.

It matches the fixture tests/fixtures/zamba2_a (vocab 300, pad 0, bos 1, eos 2). Rebuild with the
`tokenizers` Python package: python make_tokenizer.py (deterministic).
"""

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

TEXT = [
    "The quick brown fox jumps over the lazy dog.",
    "Hello world! Hello weft, hello state space models.",
    "A state space model keeps a fixed-size state, one token at a time.",
    "Sensors push frames; the session steps and the output streams.",
    "Café, naïve, résumé: UTF-8 pieces must never split a character. 🌍",
]
SPECIAL = ["<pad>", "<s>", "</s>"]

tok = Tokenizer(models.BPE())
tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
tok.decoder = decoders.ByteLevel()
trainer = trainers.BpeTrainer(
    vocab_size=300,
    special_tokens=SPECIAL,
    initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    show_progress=False,
)
tok.train_from_iterator(TEXT * 4, trainer)
tok.post_processor = processors.TemplateProcessing(
    single="<s> $A", pair="<s> $A $B", special_tokens=[("<s>", 1)]
)
assert tok.get_vocab_size() == 300, tok.get_vocab_size()
assert [tok.token_to_id(s) for s in SPECIAL] == [0, 1, 2]
tok.save("tokenizer.json")
print(tok.encode("Hello world").ids)
