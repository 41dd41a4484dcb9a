#!/bin/bash
# Interleaved before/after benchmark run for issue 14 (house).
# old = 2252d54 (/tmp/ulvs-bench-base), new = house-3 (= main f58ce5b + test-only commits)
# ROUNDS rounds; odd rounds old first, even rounds new first.
set -u
B=/tmp/h3bench; OUT=$B/out
ROUNDS=6; START=1
tree() { [ "$1" = old ] && echo /tmp/ulvs-bench-base || echo /work/wt-house-3; }
one() { # version
  v=$1; t=$(tree $v)
  (cd $t/forward && $B/${v}_forward.test -test.run '^$' -test.bench 'BenchmarkPerPacket|BenchmarkLocalDelivery' -test.benchmem -test.count 1) >> $OUT/$v-forward.txt
  (cd $t/forward/conntab && $B/${v}_forward_conntab.test -test.run '^$' -test.bench 'BenchmarkInsertLookup1M' -test.benchmem -test.count 1) >> $OUT/$v-conntab.txt
  (cd $t/sched && $B/${v}_sched.test -test.run '^$' -test.bench 'BenchmarkPick$|BenchmarkPickMiss' -test.benchtime 200ms -test.benchmem -test.count 1) >> $OUT/$v-sched.txt
}
for r in $(seq $START $ROUNDS); do
  if [ "$(date +%H%M)" -ge 1712 ]; then echo "stopping before 17:12 at round $r"; exit 3; fi
  echo "round $r $(date +%T)"
  if [ $((r % 2)) = 1 ]; then one old; one new; else one new; one old; fi
done
echo "done $(date +%T)"
