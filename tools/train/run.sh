#!/bin/bash
# Rebuild the bundled demo model from nothing: corpus -> tokenizer -> training -> reference logits.
# Needs: apt-get + dpkg (Debian/Ubuntu, x86-64: the `bible` reader is an amd64 binary), Python with
# torch, transformers 5.23, tokenizers, safetensors, numpy; a CUDA GPU for training (CPU works but
# takes days). Every step is seeded; see tools/train/README.md. Run from the repository root.
set -euo pipefail
PY=${PYTHON:-python3}
D=tools/train/data
O=tools/train/out
$PY tools/train/prepare_corpus.py --out $D
$PY tools/train/train_tokenizer.py --data $D
PYTHONUNBUFFERED=1 $PY tools/train/train_text.py --data $D --out $O/hf --time-limit 400
$PY tools/train/ref_logits.py --model $O/hf --out $O --val $D/val.txt
# GGUF (needs weft's converter): weft convert tools/train/out/hf models/demo-text.gguf --type q8_0
