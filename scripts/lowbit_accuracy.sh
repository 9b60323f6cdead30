#!/bin/sh
# scripts/lowbit_accuracy.sh - the accuracy table of docs/quantization.md:
# perplexity on valid.txt of FP32 and of every quantization scheme of a
# shared model (shakespeare-gpt2 or tinyllama-shakespeare; calibrated on
# train.txt), each with an int8 and an fp32 KV cache.  Prints a markdown
# table on stdout; the .llx files and the ppl JSON go to OUT (default
# build/lowbit-acc).
#
#   scripts/lowbit_accuracy.sh [MODEL_DIR [DATA_DIR [OUT]]]
#
# Env: LLX (the looplynx binary, default build/looplynx), THREADS (default 2),
# CTX (ppl window, default 128), MAX_TOKENS (ppl on the first N valid ids;
# default all; the tiny Llama's table uses 4096, its golden protocol).
# ONLY (an extended regex: only the rows whose name matches, e.g. ONLY=clip).
# ROTFILE (a rotation file, scripts/learn_rotation.py): adds the "learned"
# rows, W4A4 rotated by it (--rotate ROTFILE), e.g. ROTFILE=g.rot ONLY=learn.
# The seq/asym rows (ONLY=seq, ONLY=asym) are GPTQ with --gptq-calib seq|asym
# (sequential calibration, asymmetric target), unrotated, Hadamard and, with
# ROTFILE, learned.  The r4 rows (ONLY=r4) rotate only the down projection's
# input (--rotate r4: the online Hadamard alone, norms unfolded).  EVAL (default DATA/valid.txt): the text the perplexity is
# measured on; another text (a held-out part of train.txt, to choose among
# variants without valid.txt) keeps its results in OUT/NAME-TAG.json, TAG its
# base name (and -mN with MAX_TOKENS=N).
# Each quantize's stderr goes to OUT/NAME.log (with --act-clip auto: the
# calibration NLL of every ratio tried; `info -m OUT/NAME.llx` shows the one
# recorded).
set -eu
MODEL=${1:-../shared/models/shakespeare-gpt2}
DATA=${2:-../shared/data/tinyshakespeare}
OUT=${3:-build/lowbit-acc}
LLX=${LLX:-build/looplynx}
THREADS=${THREADS:-2}
CTX=${CTX:-128}
MAX_TOKENS=${MAX_TOKENS:-}
ONLY=${ONLY:-.}
EVAL=${EVAL:-$DATA/valid.txt}
TAG=
[ "$EVAL" = "$DATA/valid.txt" ] || TAG=-$(basename "$EVAL" .txt)
[ -z "$MAX_TOKENS" ] || TAG=$TAG-m$MAX_TOKENS
mkdir -p "$OUT"

ppl() { # name, model
    [ -s "$OUT/$1$TAG.json" ] || "$LLX" ppl -m "$2" -f "$EVAL" --ctx "$CTX" -t "$THREADS" \
        ${MAX_TOKENS:+--max-tokens "$MAX_TOKENS"} --json >"$OUT/$1$TAG.json"
    sed -E 's/.*"ppl": ([0-9.]+).*/\1/' "$OUT/$1$TAG.json"
}

quant() { # file name, options...
    qn=$1
    shift
    [ -s "$OUT/$qn.llx" ] ||
        "$LLX" quantize -m "$MODEL" --calib "$DATA/train.txt" -o "$OUT/$qn.llx" -t "$THREADS" "$@" 2>"$OUT/$qn.log"
}

# name | description | quantize options
VARIANTS='w8a8|W8A8 (SmoothQuant alpha 0.5, static)|
w4a8-rtn-a05|W4A8 RTN g64 (SmoothQuant alpha 0.5)|--scheme w4a8 --group 64
w4a8-rtn|W4A8 RTN g64|--scheme w4a8 --group 64 --alpha 0
w4a8-gptq|W4A8 GPTQ g64|--scheme w4a8 --group 64 --method gptq
w4a8-gptq-rot|W4A8 GPTQ g64, rotated|--scheme w4a8 --group 64 --method gptq --rotate hadamard
w4a4-rtn|W4A4 RTN per channel|--scheme w4a4 --alpha 0
w4a4-gptq|W4A4 GPTQ per channel|--scheme w4a4 --method gptq
w4a4-rtn-rot|W4A4 RTN per channel, rotated|--scheme w4a4 --rotate hadamard
w4a4-gptq-rot|W4A4 GPTQ per channel, rotated|--scheme w4a4 --method gptq --rotate hadamard
w4a4-rtn-clip|W4A4 RTN per channel, weight clip|--scheme w4a4 --alpha 0 --weight-clip mse
w4a4-gptq-clip|W4A4 GPTQ per channel, weight clip|--scheme w4a4 --method gptq --weight-clip mse
w4a4-rtn-rot-clip|W4A4 RTN per channel, rotated, weight clip|--scheme w4a4 --rotate hadamard --weight-clip mse
w4a4-gptq-rot-clip|W4A4 GPTQ per channel, rotated, weight clip|--scheme w4a4 --method gptq --rotate hadamard --weight-clip mse
w4a4-rtn-aclip|W4A4 RTN per channel, act clip auto|--scheme w4a4 --alpha 0 --act-clip auto
w4a4-gptq-aclip|W4A4 GPTQ per channel, act clip auto|--scheme w4a4 --method gptq --act-clip auto
w4a4-rtn-rot-aclip|W4A4 RTN per channel, rotated, act clip auto|--scheme w4a4 --rotate hadamard --act-clip auto
w4a4-gptq-rot-aclip|W4A4 GPTQ per channel, rotated, act clip auto|--scheme w4a4 --method gptq --rotate hadamard --act-clip auto
w4a4-gptq-seq|W4A4 GPTQ per channel, sequential calibration|--scheme w4a4 --method gptq --gptq-calib seq
w4a4-gptq-asym|W4A4 GPTQ per channel, asymmetric calibration|--scheme w4a4 --method gptq --gptq-calib asym
w4a4-gptq-asym1|W4A4 GPTQ per channel, asymmetric calibration, alpha 1|--scheme w4a4 --method gptq --gptq-calib asym --asym-alpha 1
w4a4-gptq-rot-seq|W4A4 GPTQ per channel, rotated, sequential calibration|--scheme w4a4 --method gptq --rotate hadamard --gptq-calib seq
w4a4-gptq-rot-asym|W4A4 GPTQ per channel, rotated, asymmetric calibration|--scheme w4a4 --method gptq --rotate hadamard --gptq-calib asym
w4a4-rtn-r4|W4A4 RTN per channel, R4 only|--scheme w4a4 --rotate r4
w4a4-gptq-r4|W4A4 GPTQ per channel, R4 only|--scheme w4a4 --method gptq --rotate r4
w4a4-gptq-r4-seq|W4A4 GPTQ per channel, R4 only, sequential calibration|--scheme w4a4 --method gptq --rotate r4 --gptq-calib seq
w4a4-gptq-r4-asym|W4A4 GPTQ per channel, R4 only, asymmetric calibration|--scheme w4a4 --method gptq --rotate r4 --gptq-calib asym
w4a4-rtn-r4-aclip|W4A4 RTN per channel, R4 only, act clip auto|--scheme w4a4 --rotate r4 --act-clip auto
w4a4-gptq-r4-aclip|W4A4 GPTQ per channel, R4 only, act clip auto|--scheme w4a4 --method gptq --rotate r4 --act-clip auto'
[ -z "${ROTFILE:-}" ] || VARIANTS="$VARIANTS
w4a4-rtn-learn|W4A4 RTN per channel, learned rotation|--scheme w4a4 --rotate $ROTFILE
w4a4-gptq-learn|W4A4 GPTQ per channel, learned rotation|--scheme w4a4 --method gptq --rotate $ROTFILE
w4a4-rtn-learn-aclip|W4A4 RTN per channel, learned rotation, act clip auto|--scheme w4a4 --rotate $ROTFILE --act-clip auto
w4a4-gptq-learn-aclip|W4A4 GPTQ per channel, learned rotation, act clip auto|--scheme w4a4 --method gptq --rotate $ROTFILE --act-clip auto
w4a4-gptq-learn-seq|W4A4 GPTQ per channel, learned rotation, sequential calibration|--scheme w4a4 --method gptq --rotate $ROTFILE --gptq-calib seq
w4a4-gptq-learn-asym|W4A4 GPTQ per channel, learned rotation, asymmetric calibration|--scheme w4a4 --method gptq --rotate $ROTFILE --gptq-calib asym
w4a4-gptq-learn-asym1|W4A4 GPTQ per channel, learned rotation, asymmetric calibration, alpha 1|--scheme w4a4 --method gptq --rotate $ROTFILE --gptq-calib asym --asym-alpha 1"

f=$(ppl fp32 "$MODEL")
echo "| scheme | options | ppl, int8 KV | vs FP32 | ppl, fp32 KV | vs FP32 | int8 KV cost |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
echo "| FP32 | | | | $f | | |"
echo "$VARIANTS" | grep -E "^[^|]*($ONLY)" | while IFS='|' read -r name desc opts; do
    # shellcheck disable=SC2086
    quant "$name-kv8" $opts --kv int8
    # shellcheck disable=SC2086
    quant "$name-kv32" $opts --kv fp32
    a=$(ppl "$name-kv8" "$OUT/$name-kv8.llx")
    b=$(ppl "$name-kv32" "$OUT/$name-kv32.llx")
    awk -v d="$desc" -v o="$opts" -v f="$f" -v a="$a" -v b="$b" 'BEGIN {
        printf "| %s | `%s` | %.3f | %+.2f %% | %.3f | %+.2f %% | %+.2f %% |\n", d, o, a, 100 * (a / f - 1), b,
               100 * (b / f - 1), 100 * (a / b - 1) }'
done
