#!/usr/bin/env python3
# compare_helper.py — the parts of bench/compare.sh that are easier in Python: generating trees of
# files, the latency probe (a writer and an inotify watcher in one process, one clock) and the final
# report (medians, ratios, targets). Run by compare.sh, not by hand.
#
#   compare_helper.py tree DIR FILES PER_DIR SIZE   FILES files in directories of PER_DIR; SIZE bytes of
#                                                   random data each, or "small" for i % 512 bytes of "x"
#   compare_helper.py latency SRC DST COUNT GAP_MS [RSYNC_URL]
#        writes COUNT files of 4 KiB into SRC, GAP_MS apart, and prints for each the milliseconds from
#        its close() to its name being renamed into DST, and its name (IN_MOVED_TO: both minisync and rsync write a
#        temporary file and rename it into place). With RSYNC_URL, one `rsync -a FILE RSYNC_URL` is
#        started right after each close (what a watcher such as lsyncd does at best).
#   compare_helper.py floor DIR COUNT GAP_MS        the disk's floor for workload 3: COUNT times, GAP_MS apart,
#                                                   write 4 KiB to a temporary file in DIR, fsync it and rename
#                                                   it into place (then fsync DIR, as the server does); prints
#                                                   the milliseconds until each rename is done, and the name
#   compare_helper.py report RESULTS                prints the tables (Markdown) from compare.sh's records
#   compare_helper.py idle FILES                    exit 0 if the `minisyncctl --json status` on stdin says
#                                                   at least FILES were synced and nothing is queued or in flight
import ctypes
import json
import os
import statistics
import struct
import subprocess
import sys
import threading
import time


def make_tree(root, files, per_dir, size):
    for i in range(files):
        d = os.path.join(root, f"dir{i // per_dir:05d}")
        if i % per_dir == 0:
            os.makedirs(d, exist_ok=True)
        data = b"x" * (i % 512) if size == "small" else os.urandom(int(size))
        with open(os.path.join(d, f"file{i % per_dir:05d}"), "wb") as f:
            f.write(data)


IN_MOVED_TO = 0x80
EVENT_HEADER = struct.Struct("iIII")  # wd, mask, cookie, len


def latency(src, dst, count, gap_ms, rsync_url=None):
    libc = ctypes.CDLL(None, use_errno=True)
    fd = libc.inotify_init1(os.O_CLOEXEC)
    if fd < 0 or libc.inotify_add_watch(fd, dst.encode(), IN_MOVED_TO) < 0:
        sys.exit(f"inotify on {dst}: {os.strerror(ctypes.get_errno())}")
    names = [f"lat{i:04d}" for i in range(count)]
    closed, arrived = {}, {}
    all_arrived = threading.Event()

    def watch():
        while True:
            buf = os.read(fd, 65536)
            now = time.monotonic_ns()
            pos = 0
            while pos < len(buf):
                _, _, _, length = EVENT_HEADER.unpack_from(buf, pos)
                name = buf[pos + EVENT_HEADER.size:pos + EVENT_HEADER.size + length].rstrip(b"\0").decode()
                pos += EVENT_HEADER.size + length
                arrived.setdefault(name, now)
            if all(n in arrived for n in names):
                all_arrived.set()
                return

    threading.Thread(target=watch, daemon=True).start()
    procs = []
    for name in names:
        path = os.path.join(src, name)
        out = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.write(out, os.urandom(4096))
        os.close(out)
        closed[name] = time.monotonic_ns()
        if rsync_url:
            procs.append(subprocess.Popen(["rsync", "-a", path, rsync_url]))
        time.sleep(gap_ms / 1000)
    all_arrived.wait(timeout=60)
    for p in procs:
        p.wait()
    missing = [n for n in names if n not in arrived]
    if missing:
        sys.exit(f"{len(missing)} of {count} files never appeared in {dst} (first: {missing[0]})")
    for name in names:
        print(f"{(arrived[name] - closed[name]) / 1e6:.3f} {name}")


def floor(dst, count, gap_ms):
    dir_fd = os.open(dst, os.O_RDONLY | os.O_DIRECTORY)
    for i in range(count):
        start = time.monotonic_ns()
        partial = os.path.join(dst, f".lat{i:04d}.part")
        out = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.write(out, os.urandom(4096))
        os.fsync(out)
        os.close(out)
        os.rename(partial, os.path.join(dst, f"lat{i:04d}"))
        done = time.monotonic_ns()
        os.fsync(dir_fd)
        print(f"{(done - start) / 1e6:.3f} lat{i:04d}")
        time.sleep(gap_ms / 1000)
    os.close(dir_fd)


# ---- report ----------------------------------------------------------------------------------------

def load(results):
    """Records are lines `WORKLOAD<TAB>COMPETITOR<TAB>key=value ...`; values are numbers."""
    runs = {}
    meta = {}
    with open(results) as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if parts[0] == "meta":
                meta[parts[1]] = parts[2]
                continue
            values = dict(kv.split("=", 1) for kv in parts[2:])
            runs.setdefault(parts[0], {}).setdefault(parts[1], []).append({k: float(v) for k, v in values.items()})
    return runs, meta


def med(records, key):
    values = [r[key] for r in records if key in r]
    return statistics.median(values) if values else None


def fmt(value, digits=2):
    return "–" if value is None else f"{value:.{digits}f}"


def mib(kib):
    return None if kib is None else kib / 1024


def verdict(ok):
    return "**met**" if ok else "**missed**"


def percentile(values, p):
    """Nearest-rank percentile."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * p // 100))
    return ordered[int(rank) - 1]


def report(results):
    runs, meta = load(results)
    targets = []
    out = print

    def sync_table(w, title, unit, amount):
        comps = runs.get(w, {})
        if not comps:
            return None
        n = max(len(v) for v in comps.values())
        out(f"\n### Workload {w}: {title} (median of {n} run{'s' if n > 1 else ''})\n")
        out(f"| competitor | time s | {unit} | CPU s total | CPU s agent/client | CPU s server | "
            "peak RSS MiB agent/client | peak RSS MiB server |")
        out("|---|---:|---:|---:|---:|---:|---:|---:|")
        secs = {}
        for name, recs in comps.items():
            secs[name] = med(recs, "secs")
            cc, cs = med(recs, "cpu_client"), med(recs, "cpu_server")
            total = med(recs, "cpu_total")
            out(f"| {name} | {fmt(secs[name], 3)} | {fmt(amount / secs[name], 0)} | {fmt(total)} | {fmt(cc)} | "
                f"{fmt(cs)} | {fmt(mib(med(recs, 'rss_client')), 1)} | {fmt(mib(med(recs, 'rss_server')), 1)} |")
        return secs

    def ratio_lines(secs, pairs):
        ms = secs.get("minisync")
        if ms is None:
            return
        out("")
        for other, target, label in pairs:
            if other not in secs:
                continue
            r = secs[other] / ms
            tgt = f" (target ≥ {target}×: {verdict(r >= target)})" if target else ""
            out(f"- minisync vs {other}: **{r:.2f}×**{tgt}")
            if target:
                targets.append((label, f"{r:.2f}×", r >= target))

    if "machine" in meta:
        out(f"Machine: {meta['machine']}")
    for key in ("date", "commit", "build", "versions", "sizes"):
        if key in meta:
            out(f"{key.capitalize()}: {meta[key]}")

    big = float(meta.get("big_mib", 0))
    secs = sync_table("1", f"one {big:.0f} MiB file of random data, initial sync", "MiB/s", big)
    if secs:
        ratio_lines(secs, [("rsync-ssh --fsync", 2, "W1: ≥ 2× rsync-ssh --fsync"),
                           ("rsync-ssh", None, None), ("rsyncd --fsync", None, None), ("rsyncd", None, None),
                           ("raw TLS (socat)", 0.5, "W1: ≥ 0.5× raw TLS pipe"),
                           ("verified TLS pipe", None, None)])
    small = float(meta.get("small_files", 0))
    secs = sync_table("2", f"{small:.0f} files of 4 KiB in {meta.get('small_dirs', '?')} directories, "
                      "initial sync", "files/s", small)
    if secs:
        ratio_lines(secs, [("rsync-ssh --fsync", 3, "W2: ≥ 3× rsync-ssh --fsync"),
                           ("rsync-ssh", None, None), ("rsyncd --fsync", None, None), ("rsyncd", None, None)])

    comps = runs.get("3", {})
    if comps:
        out(f"\n### Workload 3: latency, {meta.get('latency_files', '?')} files of 4 KiB written "
            f"{meta.get('latency_gap_ms', '?')} ms apart, close() to the file renamed into place on the "
            "server (all samples of all runs)\n")
        out("| competitor | samples | p50 ms | p90 ms | p99 ms | max ms |")
        out("|---|---:|---:|---:|---:|---:|")
        for name, recs in comps.items():
            lat = [r["lat"] for r in recs]
            out(f"| {name} | {len(lat)} | {percentile(lat, 50):.2f} | {percentile(lat, 90):.2f} | "
                f"{percentile(lat, 99):.2f} | {max(lat):.2f} |")
        if "minisync" in comps:
            lat = [r["lat"] for r in comps["minisync"]]
            p50, p99 = percentile(lat, 50), percentile(lat, 99)
            targets.append(("W3: p50 < 5 ms", f"{p50:.2f} ms", p50 < 5))
            targets.append(("W3: p99 < 25 ms", f"{p99:.2f} ms", p99 < 25))

    comps = runs.get("4", {})
    if comps:
        n = max(len(v) for v in comps.values())
        out(f"\n### Workload 4: unchanged tree of {meta.get('tree_files', '?')} files in "
            f"{meta.get('tree_dirs', '?')} directories, no-op (median of {n} runs)\n")
        out("| competitor | time s | CPU s agent/client | CPU s server | peak RSS MiB agent/client | "
            "nothing sent, nothing hashed |")
        out("|---|---:|---:|---:|---:|---|")
        for name, recs in comps.items():
            noop = all(r.get("noop", 0) == 1 for r in recs)
            out(f"| {name} | {fmt(med(recs, 'secs'), 3)} | {fmt(med(recs, 'cpu_client'))} | "
                f"{fmt(med(recs, 'cpu_server'))} | {fmt(mib(med(recs, 'rss_client')), 1)} | "
                f"{'yes' if noop else 'NO'} |")
        if "minisync" in comps:
            recs = comps["minisync"]
            t = med(recs, "secs")
            noop = all(r.get("noop", 0) == 1 for r in recs)
            targets.append(("W4: start-up reconciliation < 1 s, no file re-hashed",
                            f"{t:.3f} s{'' if noop else ' (NOT a no-op)'}", t < 1 and noop))
            out("")
            for other in ("rsync-ssh", "rsyncd"):
                if other in comps:
                    out(f"- minisync vs {other} no-op: **{med(comps[other], 'secs') / t:.2f}×**")
        info = runs.get("4i", {})
        if info:
            out("\nFor reference, the one initial sync of this tree that set it up:\n")
            out("| competitor | time s | files/s | peak RSS MiB agent/client |")
            out("|---|---:|---:|---:|")
            files = float(meta.get("tree_files", 0))
            for name, recs in info.items():
                t = med(recs, "secs")
                out(f"| {name} | {fmt(t, 3)} | {fmt(files / t, 0)} | {fmt(mib(med(recs, 'rss_client')), 1)} |")

    comps = runs.get("5", {})
    if comps:
        recs = comps["minisync"]
        n = len(recs)
        out(f"\n### Workload 5: agent memory watching {meta.get('watch_files', '?')} files in "
            f"{meta.get('watch_dirs', '?')} directories, after the initial sync settled "
            f"(median of {n} run{'s' if n > 1 else ''})\n")
        out("| agent VmHWM MiB | agent VmRSS MiB | inotify watches | server VmHWM MiB | initial sync s | files/s |")
        out("|---:|---:|---:|---:|---:|---:|")
        hwm = mib(med(recs, "rss_client"))
        t = med(recs, "secs")
        out(f"| {fmt(hwm, 1)} | {fmt(mib(med(recs, 'rss_now')), 1)} | {fmt(med(recs, 'watches'), 0)} | "
            f"{fmt(mib(med(recs, 'rss_server')), 1)} | {fmt(t, 3)} | "
            f"{fmt(float(meta.get('watch_files', 0)) / t, 0)} |")
        targets.append(("W5: agent peak RSS < 100 MiB", f"{hwm:.1f} MiB", hwm < 100))

    if targets:
        out("\n### Targets of issue 7\n")
        out("| target | measured | |")
        out("|---|---:|---|")
        for label, value, ok in targets:
            out(f"| {label} | {value} | {verdict(ok)} |")
        if meta.get("full_size") != "1":
            out("\n(Reduced sizes: the targets are stated for the full-size workloads.)")


def main(argv):
    if len(argv) >= 6 and argv[1] == "tree":
        make_tree(argv[2], int(argv[3]), int(argv[4]), argv[5])
    elif len(argv) in (6, 7) and argv[1] == "latency":
        latency(argv[2], argv[3], int(argv[4]), float(argv[5]), argv[6] if len(argv) == 7 else None)
    elif len(argv) == 5 and argv[1] == "floor":
        floor(argv[2], int(argv[3]), float(argv[4]))
    elif len(argv) == 3 and argv[1] == "report":
        report(argv[2])
    elif len(argv) == 3 and argv[1] == "idle":
        status = json.load(sys.stdin)
        sys.exit(0 if status["files_synced"] >= int(argv[2]) and status["queue_depth"] == 0
                 and not status["inflight"] else 1)
    else:
        sys.exit("usage: see the header of bench/compare_helper.py")


if __name__ == "__main__":
    main(sys.argv)
