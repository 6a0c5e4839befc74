#!/usr/bin/env bash
# Train zoo models on a GPU machine, several side by side, and export each as a bundle.
#
#   KERAS_BACKEND=torch bash bench/zoo_gpu.sh OUT_DIR JOB [JOB ...]
#
# Each JOB is a name defined below: it trains into runs/<job>, exports zoo/<job>
# (into OUT_DIR/zoo) and writes OUT_DIR/<job>.tar.gz plus OUT_DIR/<job>.log.
# Corpora are text files made beforehand with `python3 -m helpers corpus ...`
# (see zoo/README.md); tiny-shakespeare comes from the data registry (or $SHAKESPEARE).
set -u
OUT=${1:?usage: zoo_gpu.sh OUT_DIR JOB...}; shift
export KERAS_BACKEND=${KERAS_BACKEND:-torch} PYTHONUNBUFFERED=1
SHAKESPEARE=${SHAKESPEARE:-$(python3 -m helpers data path tinyshakespeare)}
DEVICE=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1)
DEVICE="${DEVICE:-CPU}, Keras $(python3 -c 'import keras; print(keras.__version__)') on ${KERAS_BACKEND}"
mkdir -p "$OUT/zoo" runs

job() {  # name corpus prompt data-note export-prompt -- train args...
  local name=$1 corpus=$2 prompt=$3 data=$4; shift 4
  local cmd="python3 -m helpers train $corpus --run-dir runs/$name $*"
  {
    echo "# $cmd"
    python3 -m helpers train "$corpus" --run-dir "runs/$name" --fresh "$@" --prompt "$prompt"
    python3 -m helpers export "runs/$name" --name "$name" --zoo-dir "$OUT/zoo" \
      --prompt "$prompt" --data "$data" --command "KERAS_BACKEND=$KERAS_BACKEND $cmd" \
      --device "$DEVICE" --val-text "$corpus"
    tar -C "$OUT/zoo" -czf "$OUT/$name.tar.gz" "$name"
  } > "$OUT/$name.log" 2>&1
  echo "$name done: $(grep -c '^epoch' "$OUT/$name.log") epochs; $(grep 'TrainResult' "$OUT/$name.log")"
}

TS_DATA="tiny-shakespeare (Karpathy's char-rnn sample, 1,115,394 characters, public-domain text); nanoGPT's split: first 90% train, last 10% validation."
DATA=${DATA:-data}
NOVELS_DATA="Project Gutenberg #1342 Pride and Prejudice, #84 Frankenstein, #11 Alice's Adventures in Wonderland (public domain in the USA), licence text stripped, each book wrapped in start/end tokens: \`python -m helpers corpus gutenberg 1342 84 11 --out data/novels.txt\`. Last 10% (most of Alice) is the validation split."
PY_DATA="The Python 3.11 standard library (PSF licence), tests and tools excluded, comments removed and string literals replaced by \"MSG\": \`python -m helpers corpus python --out data/python.txt\` (570 files, 5.8 MB)."
TW_DATA="The tweets of @milahu104 from the MIT-licensed archive github.com/milahu/twitter-milahu104 (data/tweets.js): retweets dropped, links and leading @mentions removed, HTML entities unescaped, 1,743 tweets wrapped in start/end tokens: \`python -m helpers corpus tweets path/to/archive --out data/tweets.txt\`."
GPU5="--seq-len 256 --batch-size 128 --steps-per-epoch 100 --epochs 100000 --schedule cosine-time --max-minutes 5"

for j in "$@"; do
  case $j in
    shakespeare_2x512) job $j "$SHAKESPEARE" "ROMEO:" "$TS_DATA" --units 512 --layers 2 --dropout 0.25 --lr 3e-3 $GPU5 & ;;
    shakespeare_2x512_d40) job $j "$SHAKESPEARE" "ROMEO:" "$TS_DATA" --units 512 --layers 2 --dropout 0.4 --lr 3e-3 $GPU5 & ;;
    shakespeare_3x384) job $j "$SHAKESPEARE" "ROMEO:" "$TS_DATA" --units 384 --layers 3 --dropout 0.25 --lr 3e-3 $GPU5 & ;;
    shakespeare_2x512_wd) job $j "$SHAKESPEARE" "ROMEO:" "$TS_DATA" --units 512 --layers 2 --dropout 0.35 --weight-decay 0.1 --lr 3e-3 $GPU5 & ;;
    shakespeare_2x512_d30) job $j "$SHAKESPEARE" "ROMEO:" "$TS_DATA" --units 512 --layers 2 --dropout 0.3 --lr 2e-3 $GPU5 & ;;
    shakespeare_fast) job $j "$SHAKESPEARE" "ROMEO:" "$TS_DATA" --units 512 --layers 2 --dropout 0.3 --lr 2e-3 --seq-len 256 --batch-size 128 --steps-per-epoch 100 --epochs 100000 --schedule cosine-time --max-minutes 1.5 & ;;
    shakespeare_carry) job $j "$SHAKESPEARE" "ROMEO:" "$TS_DATA" --units 512 --layers 2 --dropout 0.3 --lr 2e-3 --carry-state --seq-len 128 --batch-size 64 --steps-per-epoch 100 --epochs 100000 --schedule cosine-time --max-minutes 5 & ;;
    novels_char) job $j "$DATA/novels.txt" "It is a truth" "$NOVELS_DATA" --units 512 --layers 2 --dropout 0.3 --min-count 5 --lr 3e-3 $GPU5 & ;;
    python_code) job $j "$DATA/python.txt" "def " "$PY_DATA" --units 512 --layers 2 --dropout 0.1 --lr 3e-3 $GPU5 & ;;
    tweets_char) job $j "$DATA/tweets.txt" "" "$TW_DATA" --documents --units 256 --layers 2 --dropout 0.3 --min-count 3 --lr 3e-3 --seq-len 256 --batch-size 64 --steps-per-epoch 50 --epochs 100000 --schedule cosine-time --max-minutes 3 & ;;
    novels_word) job $j "$DATA/novels.txt" "it is a truth" "$NOVELS_DATA Word level: lower-cased words, punctuation and newlines as tokens, the 4,000 most frequent kept." --word-level --max-words 4000 --embed-dim 128 --units 256 --layers 2 --dropout 0.3 --lr 3e-3 --seq-len 64 --batch-size 128 --steps-per-epoch 50 --epochs 100000 --schedule cosine-time --max-minutes 4 & ;;
    *) echo "unknown job $j" ;;
  esac
done
wait
rm -rf "$OUT/zoo"
ls -la "$OUT"
