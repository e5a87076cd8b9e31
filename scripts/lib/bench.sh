# bench.sh: helpers shared by the demo and the benchmark scripts. Source
# it; it defines functions only.

# step prints a heading on stderr.
step() { printf '\n\033[1m== %s\033[0m\n' "$*" >&2; }

# now_ns prints the wall clock in nanoseconds.
now_ns() { date +%s%N; }

# median prints the median of the numbers on stdin, one a line.
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

# settle_ingest waits out ingest's upper bound: it holds each run's bound a
# second behind the present (and behind any transaction still open), so
# rows committed this very moment wait for the next run (docs/ingest.md).
settle_ingest() { sleep 1.5; }
