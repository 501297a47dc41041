#!/usr/bin/env python3
"""limitcheck stress side by side with Debian's stress-ng, alternating, in one run.

    benches/stress-vs-stress-ng.py [ROUNDS]     (builds limitcheck --release first)

cpu:  CPU time per worker per second of wall time, one unconstrained worker each, 3 s runs
      (both must saturate a core: >= 0.98 on an idle core).
vm:   time for one worker to make 512 MiB resident (sum of RssAnon of the stressor's
      descendants, polled every 5 ms), against stress-ng --vm-method write64 --vm-keep; and
      the resident bytes per second that implies.
harness: CPU time of limitcheck's parent process during a 3 s two-worker cpu run.

The machine is shared and noisy: read the ratios, which come from the same run.
"""
import os, statistics, subprocess, sys, time, json, resource

ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 5
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
subprocess.run(["cargo", "build", "--release", "-q", "-p", "limitcheck"], cwd=ROOT, check=True)
OURS = os.path.join(ROOT, "target/release/limitcheck")
VM_BYTES = 512 << 20


def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def cpu_share(cmd, workers=1, secs=3):
    before = children_cpu()
    t0 = time.monotonic()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    wall = time.monotonic() - t0
    return (children_cpu() - before) / wall / workers


def descendants(pid):
    kids = {}
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                stat = open(f"/proc/{p}/stat").read()
                ppid = int(stat[stat.rindex(")") + 2:].split()[1])
                kids.setdefault(ppid, []).append(int(p))
            except (OSError, ValueError):
                pass
    out, todo = [], [pid]
    while todo:
        q = todo.pop()
        for c in kids.get(q, []):
            out.append(c)
            todo.append(c)
    return out


def rss_anon(pids):
    total = 0
    for p in pids:
        try:
            for line in open(f"/proc/{p}/status"):
                if line.startswith("RssAnon:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            pass
    return total


def time_to_resident(cmd, target):
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    reached = None
    while time.monotonic() - t0 < 20:
        if rss_anon(descendants(proc.pid)) >= target:
            reached = time.monotonic() - t0
            break
        time.sleep(0.005)
    proc.terminate()
    proc.wait()
    return reached


def parent_share():
    proc = subprocess.Popen([OURS, "stress", "--timeout", "3s", "cpu", "--workers", "2"],
                            stdout=subprocess.DEVNULL)
    time.sleep(2.5)
    stat = open(f"/proc/{proc.pid}/stat").read()
    f = stat[stat.rindex(")") + 2:].split()
    ticks = int(f[11]) + int(f[12])
    start = int(f[19])
    uptime = float(open("/proc/uptime").read().split()[0])
    hz = os.sysconf("SC_CLK_TCK")
    alive = uptime - start / hz
    proc.wait()
    return ticks / hz / alive


res = {"cpu_ours": [], "cpu_ng": [], "vm_ours": [], "vm_ng": []}
for i in range(ROUNDS):
    pair = [
        ("cpu_ours", lambda: cpu_share([OURS, "stress", "--timeout", "3s", "cpu", "--workers", "1"])),
        ("cpu_ng", lambda: cpu_share(["stress-ng", "--cpu", "1", "--timeout", "3s"])),
        ("vm_ours", lambda: time_to_resident(
            [OURS, "stress", "--timeout", "20s", "vm", "--workers", "1", "--bytes", str(VM_BYTES), "--keep"],
            int(VM_BYTES * 0.95))),
        ("vm_ng", lambda: time_to_resident(
            ["stress-ng", "--vm", "1", "--vm-bytes", str(VM_BYTES), "--vm-method", "write64", "--vm-keep",
             "--timeout", "20s"], int(VM_BYTES * 0.95))),
    ]
    if i % 2:
        pair = [pair[1], pair[0], pair[3], pair[2]]
    for name, f in pair:
        res[name].append(f())

med = {k: statistics.median([x for x in v if x is not None]) for k, v in res.items()}
print(f"{ROUNDS} rounds, alternating")
print(f"cpu  CPU per worker / wall: ours {med['cpu_ours']:.3f}, stress-ng {med['cpu_ng']:.3f}, "
      f"ratio {med['cpu_ours'] / med['cpu_ng']:.3f}")
print(f"vm   time to 95% of {VM_BYTES >> 20} MiB resident: ours {med['vm_ours'] * 1000:.0f} ms, "
      f"stress-ng {med['vm_ng'] * 1000:.0f} ms; speed ratio (ours/stress-ng) "
      f"{med['vm_ng'] / med['vm_ours']:.2f}; ours {VM_BYTES * 0.95 / med['vm_ours'] / 4096:,.0f} pages/s")
print(f"harness: limitcheck's parent used {parent_share() * 100:.2f}% of a core during a 2-worker cpu run")
