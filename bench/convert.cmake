# Convert benchmark: bench/convert_bench.sh (synthesizes a full-size
# glm-4-9b-chat, measures cold disk read speed, times `glmq convert`).
# It is a script, not a Google Benchmark binary: the figure of interest is
# end-to-end throughput against the disk, and peak RSS.
