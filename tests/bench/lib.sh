# tests/bench/lib.sh - what the bench scripts share (sourced): the median of the
# numbers on stdin, one per line ("n/a" for none), and now in microseconds.
median() { sort -n | awk '{a[NR]=$1} END {if (NR) print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2); else print "n/a"}'; }
now_us() { echo $(( $(date +%s%N) / 1000 )); }
