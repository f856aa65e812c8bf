# Sourced by the benchmark scripts: `stat_of FILE` prints the wall
# seconds, peak RSS (MB) and CPU seconds (user + system) of one
# `/usr/bin/time -v -o FILE …` measurement.
stat_of() {
  python3 - "$1" <<'PY'
import re, sys
t = open(sys.argv[1]).read()
w = re.search(r"Elapsed \(wall clock\) time .*?: (\S+)", t).group(1).split(":")
secs = sum(float(x) * 60 ** i for i, x in enumerate(reversed(w)))
rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", t).group(1)) / 1024
cpu = sum(float(re.search(rf"{k} time \(seconds\): (\S+)", t).group(1)) for k in ("User", "System"))
print(f"{secs:.3f} {rss:.1f} {cpu:.2f}")
PY
}
