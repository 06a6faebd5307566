#!/usr/bin/env bash
# Train the bundled networks (checkpoints/*.pt, checkpoints/realtime/*.pt, checkpoints/universal.pt) from scratch, in the order they were made: each stage
# continues the file the previous stage of that style wrote (--init, or --resume for a training checkpoint).
#
#   scripts/train_bundled.sh --dry-run      # print the commands only
#   scripts/train_bundled.sh [OUT_DIR]      # train; networks go to OUT_DIR (default runs/bundled)
#
# Data: ../shared (55 training photos, 6 val photos, the five paintings, the ImageNet VGG19 weights; see
# docs/development.md). Override with SHARED=/path. Each stage's time on a 2-core CPU is in
# checkpoints/README.md; the stages ran two side by side, one thread each (OMP_NUM_THREADS=1), in bf16 on an
# Intel Xeon with AMX (what --precision auto picks there) and in fp32 on an AVX2-only AMD EPYC. Training is
# seeded but not bit-exact across machines and precisions: a rerun gives networks close to the bundled ones.
# On a CPU without native bf16, set CONTINUATION_PRECISION=fp32 (emulated bf16 is many times slower).
set -euo pipefail
cd "$(dirname "$0")/.."

dry_run=0
if [ "${1:-}" = "--dry-run" ]; then dry_run=1; shift; fi
OUT=${1:-runs/bundled}
SHARED=${SHARED:-../shared}
STYLES=$SHARED/data/style

# The objective and data every stage shares; the defaults (layer weights 0.5,0.75,4,4, style at 512 px,
# lr 3e-3 with its tenfold drop at 70 %, stability weight 3e2) are the current recipe, docs/recipe.md.
COMMON=(--data "$SHARED/data/content/train" --val-dir "$SHARED/data/content/val" --loss-net vgg19
        --loss-weights "$SHARED/weights/vgg19-imagenet-features.pth" --workers 1)
CPU_BUDGET=(--image-size 128 --batch-size 4)            # the stages at 128-px crops
FINISH=(--image-size 256 --batch-size 1)                # the last stage: larger crops, the same pixels a step
FIRST_RECIPE=(--style-layer-weights 1,1,1,1 --style-size 256 --lr 1e-3 --lr-decay-at 1)
CONTINUATION_PRECISION=${CONTINUATION_PRECISION:-bf16}

run() {
    echo "+ $*"
    if [ "$dry_run" = 0 ]; then "$@"; fi
}

train() {  # train STYLE_NAME ARGS...: one stage; writes $OUT/<name>.pt unless ARGS give --out
    local name=$1; shift
    run python train.py "${COMMON[@]}" --logdir "$OUT/logs/$name" "$@"
}

net() { echo "$OUT/$1.pt"; }

if [ "$dry_run" = 0 ]; then
    for needed in "$STYLES/mosaic.jpg" "$SHARED/weights/vgg19-imagenet-features.pth" "$SHARED/data/content/train"; do
        [ -e "$needed" ] || { echo "missing $needed (set SHARED=/path/to/shared)" >&2; exit 1; }
    done
    mkdir -p "$OUT"
fi

# 1. mosaic, starry_night, candy: the first recipe, first without the stability term, then continued
#    with it (--resume keeps the run's options; fp32 first, bf16 for the continuation).
for style in mosaic starry_night candy; do
    if [ "$style" = mosaic ]; then first=2000 total=4000; else first=1000 total=3000; fi
    train "$style" --style "$STYLES/$style.jpg" "${CPU_BUDGET[@]}" "${FIRST_RECIPE[@]}" --steps "$first" \
        --stability-weight 0 --precision fp32 --out "$OUT/logs/$style/first.pt"
    run python train.py --resume "$OUT/logs/$style/checkpoint.pt" --steps "$total" --stability-weight 3e2 \
        --precision "$CONTINUATION_PRECISION" --workers 1 --out "$(net "$style")"
done

# 2. five.pt: the five styles in one network, from the 4,000-step mosaic network.
train five --style "$STYLES/mosaic.jpg" "$STYLES/candy.jpg" "$STYLES/starry_night.jpg" "$STYLES/udnie.jpg" \
    "$STYLES/rain-princess.jpg" --init "$(net mosaic)" "${CPU_BUDGET[@]}" --steps 750 --out "$(net five)"

# 3. rain-princess: 200 steps from the 4,000-step mosaic network (no stability term, lr 1e-3), then 700 of
#    the defaults from that run's training checkpoint.
train rain-princess --style "$STYLES/rain-princess.jpg" --init "$(net mosaic)" "${CPU_BUDGET[@]}" --steps 200 \
    --stability-weight 0 --lr 1e-3 --lr-decay-at 1 --out "$OUT/logs/rain-princess/first.pt"
train rain-princess-defaults --style "$STYLES/rain-princess.jpg" --init "$OUT/logs/rain-princess/checkpoint.pt" \
    "${CPU_BUDGET[@]}" --steps 700 --out "$(net rain-princess)"

# 4. mosaic: 300 steps of the defaults.
train mosaic-300 --style "$STYLES/mosaic.jpg" --init "$(net mosaic)" "${CPU_BUDGET[@]}" --steps 300 --out "$(net mosaic)"

# 5. udnie: from five.pt's udnie (the shared layers and the norms of the style of that name), 1,400 steps,
#    then resumed to 3,000 at lr 1e-3 (a tenth after step 2,100).
train udnie --style "$STYLES/udnie.jpg" --init "$(net five)" "${CPU_BUDGET[@]}" --steps 1400 --ckpt-every 100 \
    --out "$(net udnie)"
run python train.py --resume "$OUT/logs/udnie/checkpoint.pt" --steps 3000 --lr 1e-3 --ckpt-every 100 \
    --out "$(net udnie)"

# 6. 1,200 steps of the defaults: mosaic, candy, rain-princess.
for style in mosaic candy rain-princess; do
    train "$style-1200" --style "$STYLES/$style.jpg" --init "$(net "$style")" "${CPU_BUDGET[@]}" --steps 1200 \
        --out "$(net "$style")"
done

# 7. 1,200 steps at a tripled style weight: starry_night, mosaic, candy, rain-princess.
for style in starry_night mosaic candy rain-princess; do
    train "$style-3e4" --style "$STYLES/$style.jpg" --init "$(net "$style")" "${CPU_BUDGET[@]}" --steps 1200 \
        --style-weight 3e4 --out "$(net "$style")"
done

# 8. 1,000 more steps: udnie at the defaults, starry_night at the tripled style weight.
train udnie-1000 --style "$STYLES/udnie.jpg" --init "$(net udnie)" "${CPU_BUDGET[@]}" --steps 1000 --out "$(net udnie)"
train starry_night-1000 --style "$STYLES/starry_night.jpg" --init "$(net starry_night)" "${CPU_BUDGET[@]}" \
    --steps 1000 --style-weight 3e4 --out "$(net starry_night)"

# 9. The finish: 800 steps at 256-px crops, batch 1; udnie at the defaults, the others at style weight 3e4.
train udnie-finish --style "$STYLES/udnie.jpg" --init "$(net udnie)" "${FINISH[@]}" --steps 800 --out "$(net udnie)"
for style in candy rain-princess mosaic starry_night; do
    train "$style-finish" --style "$STYLES/$style.jpg" --init "$(net "$style")" "${FINISH[@]}" --steps 800 \
        --style-weight 3e4 --out "$(net "$style")"
done

# 10. The real-time networks (checkpoints/realtime/): --arch tiny students distilled from the networks above,
#     without the stability term. First mosaic and candy alone, pixel and content terms only (no Gram term,
#     pixel weight 100) at a constant lr; then all five with the Gram term of the teacher's output (the mosaic
#     student starting starry_night, rain-princess and udnie); then finishes at style weights 3e4 and 1e5.
DISTILL=(--data "$SHARED/data/content/train" --val-dir "$SHARED/data/content/val" --loss-net vgg19
         --loss-weights "$SHARED/weights/vgg19-imagenet-features.pth" "${CPU_BUDGET[@]}" --stability-weight 0)
realtime() { echo "$OUT/realtime/$1.pt"; }
for style in mosaic candy; do
    run python train.py --distill "$(net "$style")" "${DISTILL[@]}" --steps 750 --lr-decay-at 1 --pixel-weight 100 \
        --style-weight 0 --logdir "$OUT/logs/realtime-$style-first" --out "$(realtime "$style")"
done
for style in starry_night rain-princess udnie candy mosaic; do
    from=$( [ "$style" = candy ] && realtime candy || realtime mosaic )
    run python train.py --distill "$(net "$style")" "${DISTILL[@]}" --init "$from" --steps 450 --lr-decay-at 0.6 \
        --logdir "$OUT/logs/realtime-$style" --out "$(realtime "$style")"
done
for style in mosaic candy starry_night rain-princess udnie; do
    run python train.py --distill "$(net "$style")" "${DISTILL[@]}" --init "$(realtime "$style")" --steps 250 \
        --lr 1e-3 --style-weight 3e4 --logdir "$OUT/logs/realtime-$style-finish" --out "$(realtime "$style")"
done
for style in mosaic candy starry_night rain-princess udnie; do
    run python train.py --distill "$(net "$style")" "${DISTILL[@]}" --init "$(realtime "$style")" --steps 250 \
        --lr 1e-3 --style-weight 1e5 --logdir "$OUT/logs/realtime-$style-1e5" --out "$(realtime "$style")"
done

for style in mosaic candy; do
    run python train.py --distill "$(net "$style")" "${DISTILL[@]}" --init "$(realtime "$style")" --steps 400 \
        --lr 1e-3 --style-weight 1e5 --logdir "$OUT/logs/realtime-$style-finish2" --out "$(realtime "$style")"
done
# Then at 256-px crops (batch 2), mosaic and candy; candy twice more, at a lower rate and a tripled style weight.
for style in mosaic candy; do
    run python train.py --distill "$(net "$style")" "${DISTILL[@]}" --init "$(realtime "$style")" --steps 500 \
        --image-size 256 --batch-size 2 --lr 1e-3 --style-weight 1e5 --logdir "$OUT/logs/realtime-$style-256" \
        --out "$(realtime "$style")"
done
run python train.py --distill "$(net candy)" "${DISTILL[@]}" --init "$(realtime candy)" --steps 250 --image-size 256 \
    --batch-size 2 --lr 5e-4 --style-weight 1e5 --logdir "$OUT/logs/realtime-candy-256b" --out "$(realtime candy)"
run python train.py --distill "$(net candy)" "${DISTILL[@]}" --init "$(realtime candy)" --steps 300 --image-size 256 \
    --batch-size 2 --lr 5e-4 --style-weight 3e5 --logdir "$OUT/logs/realtime-candy-256c" --out "$(realtime candy)"

# 11. The universal model (checkpoints/universal.pt): decoders trained on the photos only (no painting; mosaic is
#     only shown in TensorBoard). First relu2_1's (this run also trains relu4_1 and relu1_1 decoders, which the
#     bundled model does not use): 4,000 steps at a constant 1e-3, then 1,000 at 1e-4 (--lr-decay-at 0.8 of 5,000).
UNIVERSAL=(--data "$SHARED/data/content/train" --encoder-weights "$SHARED/weights/vgg19-imagenet-features.pth"
           --image-size 128 --batch-size 8 --lr 1e-3 --workers 1 --logdir "$OUT/logs/universal"
           --sample-style "$STYLES/mosaic.jpg" --sample-every 250 --ckpt-every 50 --log-every 25)
run python -m fastnst train-decoders "${UNIVERSAL[@]}" --levels relu4_1 relu2_1 relu1_1 --steps 4000 --lr-decay-at 1 \
    --out "$OUT/universal-fine.pt"
run python -m fastnst train-decoders --resume "$OUT/logs/universal/decoders.pt" --steps 5000 --lr-decay-at 0.8 \
    --out "$OUT/universal-fine.pt"
#     Then relu3_1's, 45 minutes on one thread (3,945 steps, the rate dropped tenfold after 80 %), and the two
#     joined in one file.
OMP_NUM_THREADS=1 run python -m fastnst train-decoders --data "$SHARED/data/content/train" \
    --encoder-weights "$SHARED/weights/vgg19-imagenet-features.pth" --levels relu3_1 --minutes 45 --image-size 128 \
    --batch-size 8 --lr 1e-3 --logdir "$OUT/logs/universal-relu3_1" --out "$OUT/universal-relu3_1.pt"
run python scripts/compose_universal.py "$OUT/universal.pt" "$OUT/universal-relu3_1.pt" "$OUT/universal-fine.pt" \
    --levels relu3_1 relu2_1

echo "networks in $OUT: mosaic.pt starry_night.pt candy.pt rain-princess.pt udnie.pt five.pt, realtime/*.pt, universal.pt"
