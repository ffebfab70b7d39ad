#!/usr/bin/env python3
"""analyze-cfs.py OUTDIR  -> markdown summary on stdout.

Reads the raw files written by run-cfs.sh (cgsample, strace, cpuprobe outputs, memory samples) and
prints the summary tables used in docs/measurements/cfs-stress.md. Pure python3 (no numpy).
"""
import glob
import os
import re
import sys
from collections import defaultdict

P_MS = 100.0


def pct(xs, q):
    if not xs:
        return float("nan")
    s = sorted(xs)
    if len(s) == 1:
        return s[0]
    k = (len(s) - 1) * q / 100.0
    f = int(k)
    c = min(f + 1, len(s) - 1)
    return s[f] + (s[c] - s[f]) * (k - f)


def mean(xs):
    return sum(xs) / len(xs) if xs else float("nan")


def f1(x):
    return "nan" if x != x else f"{x:.1f}"


def f2(x):
    return "nan" if x != x else f"{x:.2f}"


# ------------------------------------------------------------------------------------------------
def parse_header(line):
    return {k: v for k, v in re.findall(r"(\w+)=(\S+)", line)}


def parse_cgs(path):
    rows = []
    with open(path) as f:
        hdr = parse_header(f.readline())
        for line in f:
            v = [int(x) for x in line.split()]
            rows.append(v)
    return hdr, rows


def cgs_summary(rows):
    a, b = rows[0], rows[-1]
    dt = (b[0] - a[0]) / 1e9
    dp = b[1] - a[1]
    dthr = b[2] - a[2]
    dtt = (b[3] - a[3]) / 1e6
    du = [(b[4 + k] - a[4 + k]) / 1e6 for k in range(len(a) - 4)]
    tot = sum(du)
    return {
        "dt": dt,
        "periods": dp,
        "throttled": dthr,
        "thr_time_per_period_ms": dtt / dp if dp else float("nan"),
        "usage_per_period_ms": tot / dp if dp else float("nan"),
        "usage_per_100ms": tot / (dt * 10.0),
        "cpu_util": tot / (dt * 1000.0),
        "percpu_per_100ms": [x / (dt * 10.0) for x in du],
    }


def cgs_boundaries(rows, P=100e6):
    """times (ns, relative to cgs t0) of the period-timer firings.

    The firing k happened in (t[i-1], t[i]] where sample i is the first to show the new nr_periods.
    The sampler itself can be delayed by several ms right at the refill (the group's tasks resume on
    all CPUs), so instead of the midpoint we fit the strictly periodic hrtimer lattice phi + k*P to
    all intervals (phase with the most intervals containing it, then the middle of the feasible
    range). Falls back to midpoints when the lattice does not fit (the timer was restarted)."""
    iv = [(rows[i - 1][0], rows[i][0]) for i in range(1, len(rows)) if rows[i][1] != rows[i - 1][1]]
    if not iv:
        return []
    mids = [(lo + hi) / 2.0 for lo, hi in iv]
    if len(iv) < 5:
        return mids
    step = 0.05e6
    cnt = []
    for sidx in range(int(P / step)):
        phi = sidx * step
        c = 0
        for lo, hi in iv:
            b = phi + round((hi - phi) / P) * P
            if lo < b <= hi:
                c += 1
        cnt.append(c)
    mx = max(cnt)
    if mx < 0.9 * len(iv):
        return mids
    best = [i for i, c in enumerate(cnt) if c == mx]
    # the feasible set may wrap around 0; take the longest run of consecutive best phases
    runs, cur = [], [best[0]]
    for i in best[1:]:
        if i == cur[-1] + 1:
            cur.append(i)
        else:
            runs.append(cur)
            cur = [i]
    runs.append(cur)
    r = max(runs, key=len)
    phi = (r[0] + r[-1]) / 2.0 * step
    out = []
    for (lo, hi), m in zip(iv, mids):
        b = phi + round((hi - phi) / P) * P
        out.append(b if lo - 1e6 < b <= hi + 1e6 else m)
    return out


def cgs_windows(rows):
    """per full period: usage (ms), time of the last usage charge per CPU relative to the boundary."""
    ncpu = len(rows[0]) - 4
    bidx = [i for i in range(1, len(rows)) if rows[i][1] != rows[i - 1][1]]
    btime = cgs_boundaries(rows)
    per = []
    for j in range(len(bidx) - 1):
        i0, i1 = bidx[j], bidx[j + 1]
        tb = btime[j]
        last = [None] * ncpu
        first = [None] * ncpu
        # charges observed at samples i0 .. i1-1 (the charge at i0 may include a little of the
        # previous period's tail: tick-granular accounting)
        for i in range(i0 + 1, i1):
            for k in range(ncpu):
                if rows[i][4 + k] > rows[i - 1][4 + k]:
                    # the charge happened in (t[i-1], t[i]]: take the midpoint
                    t = ((rows[i][0] + rows[i - 1][0]) / 2.0 - tb) / 1e6
                    last[k] = t
                    if first[k] is None:
                        first[k] = t
        use = sum(rows[i1 - 1][4 + k] - rows[i0 - 1][4 + k] for k in range(ncpu)) / 1e6
        ends = [x for x in last if x is not None]
        per.append({
            "usage": use,
            "end": max(ends) if ends else 0.0,
            "ends": last,
            "firsts": first,
            "thr": rows[i1 - 1][2] - rows[i0 - 1][2],
        })
    return per


# ------------------------------------------------------------------------------------------------
SEL_RE = re.compile(r"^(\d+)\s+(\d+\.\d+)\s+(pselect6|select)\((.*)")
RES_RE = re.compile(r"^(\d+)\s+(\d+\.\d+)\s+<\.\.\. (pselect6|select) resumed>(.*)")
REQ_RE = re.compile(r"\{tv_sec=(-?\d+), tv_nsec=(-?\d+)\}|\{tv_sec=(-?\d+), tv_usec=(-?\d+)\}")
DUR_RE = re.compile(r"<(\d+\.\d+)>\s*$")


def parse_strace(path):
    """-> {pid: [(entry_s, req_s, dur_s, ret_str)]} for select/pselect6 calls"""
    ev = defaultdict(list)
    pend = {}
    with open(path) as f:
        for line in f:
            m = SEL_RE.match(line)
            if m:
                pid, t, rest = int(m.group(1)), float(m.group(2)), m.group(4)
                r = REQ_RE.search(rest)
                req = float("nan")
                if r:
                    if r.group(1) is not None:
                        req = int(r.group(1)) + int(r.group(2)) / 1e9
                    else:
                        req = int(r.group(3)) + int(r.group(4)) / 1e6
                if "<unfinished" in rest:
                    pend[pid] = (t, req)
                    continue
                d = DUR_RE.search(rest)
                ret = rest.split("=")[-1] if "=" in rest else ""
                ev[pid].append((t, req, float(d.group(1)) if d else float("nan"), ret.strip()))
                continue
            m = RES_RE.match(line)
            if m:
                pid = int(m.group(1))
                rest = m.group(4)
                d = DUR_RE.search(rest)
                if pid in pend:
                    t, req = pend.pop(pid)
                    ev[pid].append((t, req, float(d.group(1)) if d else float("nan"), rest.strip()))
    return {p: v for p, v in ev.items() if len(v) >= 5}


def strace_summary(d):
    ev = parse_strace(os.path.join(d, "strace.txt"))
    cgsp = os.path.join(d, "cgs.txt")
    hdr, rows = parse_cgs(cgsp)
    off = (int(hdr["t0_realtime_ns"]) - int(hdr["t0_ns"])) / 1e9  # realtime - mono
    t0m = int(hdr["t0_ns"]) / 1e9
    bnds = [t0m + b / 1e9 for b in cgs_boundaries(rows)]  # monotonic seconds
    tstart, tend = t0m + rows[0][0] / 1e9, t0m + rows[-1][0] / 1e9
    req, sl_norm, sl_long, busy, nsel, phase_in, phase_out, errs = [], [], [], [], 0, [], [], 0
    for pid, v in ev.items():
        prev_ret = None
        for (t, rq, du, ret) in v:
            tm = t - off
            if not (tstart <= tm <= tend):
                prev_ret = tm + du
                continue
            nsel += 1
            if "EINVAL" in ret or "-1" in ret:
                errs += 1
            req.append(rq * 1e3)
            if du == du:
                if du * 1e3 < rq * 1e3 + 1.0:
                    sl_norm.append(du * 1e3)
                else:
                    sl_long.append(du * 1e3)
                    # phase of entry and of the wakeup relative to the preceding boundary
                    for tt, lst in ((tm, phase_in), (tm + du, phase_out)):
                        pb = [b for b in bnds if b <= tt]
                        if pb:
                            lst.append((tt - pb[-1]) * 1e3)
            if prev_ret is not None:
                busy.append((tm - prev_ret) * 1e3)
            prev_ret = tm + du
    s = cgs_summary(rows)
    cyc_cpu = s["usage_per_100ms"] * s["dt"] * 10.0 / nsel if nsel else float("nan")
    return {
        "workers": len(ev),
        "sel_per_s_per_worker": nsel / (s["dt"] * max(1, len(ev))),
        "req": req,
        "sl_norm": sl_norm,
        "sl_long": sl_long,
        "busy": busy,
        "cpu_per_cycle": cyc_cpu,
        "phase_in": phase_in,
        "phase_out": phase_out,
        "errs": errs,
        "cgs": s,
    }


def clock_slices(path):
    """from the clock_gettime trace: per busy slice (between two pselect6 of a worker) the CPU-clock
    span and the wall span"""
    cg = re.compile(r"^(\d+)\s+(\d+\.\d+)\s+clock_gettime\(CLOCK_PROCESS_CPUTIME_ID, \{tv_sec=(\d+), tv_nsec=(\d+)\}")
    sel = re.compile(r"^(\d+)\s+(\d+\.\d+)\s+(pselect6|<\.\.\. pselect6 resumed>)")
    cur = defaultdict(list)
    out = []
    with open(path) as f:
        for line in f:
            m = cg.match(line)
            if m:
                cur[int(m.group(1))].append((float(m.group(2)), int(m.group(3)) + int(m.group(4)) / 1e9))
                continue
            m = sel.match(line)
            if m and m.group(3) == "pselect6":
                pid = int(m.group(1))
                c = cur.pop(pid, [])
                if len(c) >= 2:
                    out.append(((c[-1][1] - c[0][1]) * 1e3, (c[-1][0] - c[0][0]) * 1e3, len(c)))
    return out


# ------------------------------------------------------------------------------------------------
def parse_spin(path):
    with open(path) as f:
        hdr = parse_header(f.readline())
        gaps = [tuple(int(x) for x in l.split()[1:]) for l in f if l.startswith("g ")]
    return hdr, gaps


def spin_summary(d):
    hdr, gaps = parse_spin(os.path.join(d, "spin.txt"))
    chdr, rows = parse_cgs(os.path.join(d, "cgs.txt"))
    t0s = int(hdr["t0_ns"])
    dur = int(hdr["dur_ns"])
    off = int(chdr["t0_ns"]) - t0s  # cgs time + off = spin time
    bnds = [b + off for b in cgs_boundaries(rows)]
    # running intervals of the probe (spin-relative ns)
    runs = []
    t = 0
    for (gs, gl, _c) in gaps:
        if gs > t:
            runs.append((t, gs))
        t = gs + gl
    if dur > t:
        runs.append((t, dur))
    gl_ms = [g[1] / 1e6 for g in gaps]
    per = []
    pw = cgs_windows(rows)
    sh = 3e6  # frame = [boundary - 3 ms, next boundary - 3 ms): the boundary estimate is +-0.5 ms
    for j in range(len(bnds) - 1):
        b0, b1 = bnds[j] - sh, bnds[j + 1] - sh
        if b0 < 0 or b1 > dur:
            continue
        rt, first, last, nshort, short_tot = 0.0, None, None, 0, 0.0
        for (a, e) in runs:
            a2, e2 = max(a, b0), min(e, b1)
            if e2 > a2:
                rt += (e2 - a2)
                if first is None:
                    first = a2
                last = e2
        for (gs, glen, _c) in gaps:
            if gs >= b0 and gs + glen <= b1 and glen < 10e6 and first is not None and gs >= first and gs + glen <= last:
                nshort += 1
                short_tot += glen
        if first is None:
            continue
        grp = pw[j]["usage"] if j < len(pw) else float("nan")
        per.append({
            "run": rt / 1e6,
            "first": (first - b0 - sh) / 1e6,
            "last": (last - b0 - sh) / 1e6,
            "span": (last - first) / 1e6,
            "nshort": nshort,
            "short": short_tot / 1e6,
            "grp": grp,
            "grp_end": pw[j]["end"] if j < len(pw) else float("nan"),
        })
    return {
        "cpu_ms_per_s": int(hdr["cpu_ns"]) / dur * 1e3,
        "gaps": gl_ms,
        "per": per,
        "cgs": cgs_summary(rows),
    }


# ------------------------------------------------------------------------------------------------
def parse_lat(path):
    with open(path) as f:
        hdr = parse_header(f.readline())
        s = [tuple(int(x) for x in l.split()[1:]) for l in f if l.startswith("s ")]
    return hdr, s


def lat_summary(d, x):
    hdr, s = parse_lat(os.path.join(d, f"lat-x{x}.txt"))
    tot = [v[2] / 1e6 for v in s]
    wl = [v[1] / 1e6 for v in s]
    res = {
        "n": len(s),
        "p50": pct(tot, 50), "p90": pct(tot, 90), "p99": pct(tot, 99), "max": max(tot),
        "mean": mean(tot),
        "waited": sum(1 for v in tot if v > x / 1e3 * 2 + 3.0) / len(tot),
        "wl_p50": pct(wl, 50), "wl_p99": pct(wl, 99),
    }
    cgp = os.path.join(d, "cgs.txt")
    if os.path.exists(cgp):
        chdr, rows = parse_cgs(cgp)
        res["cgs"] = cgs_summary(rows)
        res["other"] = host_other(d, res["cgs"])
        bn = cgs_boundaries(rows)
        if len(bn) > 10:
            off = int(chdr["t0_ns"]) - int(hdr["t0_ns"])
            bl = [b + off for b in bn]  # lat-relative ns
            bins = defaultdict(list)
            for v in s:
                a = v[0]
                pb = [b for b in bl if b <= a]
                if not pb or a > bl[-1] + 150e6:
                    continue
                ph = (a - pb[-1]) / 1e6
                bins[min(9, int(ph // 10))].append(v[2] / 1e6)
            res["phase_bins"] = {k: (len(v), pct(v, 50), max(v)) for k, v in sorted(bins.items())}
    return res


def host_other(d, cgs_sum):
    """CPUs used by everything outside the group during the run (from /proc/stat)."""
    try:
        p0 = [int(x) for x in open(os.path.join(d, "procstat0")).read().split()[1:]]
        p1 = [int(x) for x in open(os.path.join(d, "procstat1")).read().split()[1:]]
    except (OSError, ValueError):
        return float("nan")
    tot = sum(p1) - sum(p0)
    idle = (p1[3] + p1[4]) - (p0[3] + p0[4])
    if tot <= 0:
        return float("nan")
    return 2.0 * (tot - idle) / tot - cgs_sum["cpu_util"]


# ------------------------------------------------------------------------------------------------
def cfg_key(tag):
    m = re.match(r"w(\d+)l(\d+)(q|nq)", tag)
    return (m.group(3) == "nq", int(m.group(1)), int(m.group(2))) if m else (True, 0, 0)


def section_cpu(out):
    runs = defaultdict(list)
    for d in sorted(glob.glob(os.path.join(out, "cpu", "*"))):
        tag = os.path.basename(d)
        base = tag.rsplit("-r", 1)[0]
        try:
            hdr, rows = parse_cgs(os.path.join(d, "cgs.txt"))
        except (OSError, IndexError, ValueError):
            continue
        s = cgs_summary(rows)
        w = cgs_windows(rows)
        # host contention: total busy CPU minus the group's
        s["host_other_cpu"] = host_other(d, s)
        s["win_end"] = [p["end"] for p in w]
        s["win_usage"] = [p["usage"] for p in w]
        runs[base].append(s)
    print("## CPU consumption per (W,L) (cgsample, 7 s steady state per run, 1 ms samples)\n")
    print("Per run: usage = group CPU per 100 ms of wall time; thr = nr_throttled/nr_periods; "
          "thr_time = throttled_time per period (summed over CPUs); win_end = time after the period "
          "boundary of the last CPU charge (median over periods) = end of the runnable window; "
          "other = CPU used by everything else on the box during the run (host contention, includes the sampler).\n")
    print("| config | run | usage ms/100ms | per-CPU ms/100ms | thr/periods | thr_time ms/period | win_end med [p10,p90] ms | other CPUs |")
    print("|---|---|---|---|---|---|---|---|")
    for base in sorted(runs, key=cfg_key):
        for i, s in enumerate(runs[base]):
            we = s["win_end"]
            print(f"| {base} | {i+1} | {f2(s['usage_per_100ms'])} | "
                  f"{'/'.join(f1(x) for x in s['percpu_per_100ms'])} | {s['throttled']}/{s['periods']} | "
                  f"{f1(s['thr_time_per_period_ms'])} | "
                  + (f"{f1(pct(we,50))} [{f1(pct(we,10))},{f1(pct(we,90))}]" if we else "-")
                  + f" | {f2(s['host_other_cpu'])} |")
    print()
    print("Aggregated (mean over runs; spread = min..max of the per-run values):\n")
    print("| config | usage ms/100ms | thr fraction | thr_time ms/period | window end ms (median of run medians) |")
    print("|---|---|---|---|---|")
    for base in sorted(runs, key=cfg_key):
        rs = runs[base]
        u = [r["usage_per_100ms"] for r in rs]
        tf = [r["throttled"] / r["periods"] if r["periods"] else 0.0 for r in rs]
        tt = [r["thr_time_per_period_ms"] for r in rs if r["periods"]]
        we = [pct(r["win_end"], 50) for r in rs if r["win_end"]]
        print(f"| {base} | {f2(mean(u))} ({f2(min(u))}..{f2(max(u))}) | {f2(mean(tf)) if tf else '-'} | "
              f"{(f1(mean(tt)) + ' (' + f1(min(tt)) + '..' + f1(max(tt)) + ')') if tt else '-'} | "
              f"{(f1(pct(we,50)) + ' (' + f1(min(we)) + '..' + f1(max(we)) + ')') if we else '-'} |")
    print()


def section_strace(out):
    print("## Worker duty cycle (strace --seccomp-bpf, only select/pselect6 stop; 7 s window)\n")
    print("req = requested select timeout; short sleeps = actual < req + 1 ms; long sleeps = the wakeup "
          "fell into a throttled stretch; busy = wall time between a select return and the next select "
          "entry (one busy slice); cpu/cycle = group CPU in the window / number of selects; "
          "wake phase = time of the long-sleep wakeup after the period boundary.\n")
    print("| config | sel/s/worker | req ms p50 [p10,p90] | short sleeps: n, p50 ms | long sleeps: n, p50 [p10,p90] ms | busy wall ms p50 [p10,p90] | cpu/cycle ms | long-sleep entry phase p50 | wake phase p50 [p90] | select errors |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for d in sorted(glob.glob(os.path.join(out, "strace", "w*")), key=lambda p: cfg_key(os.path.basename(p))):
        try:
            s = strace_summary(d)
        except (OSError, KeyError, IndexError, ValueError) as e:
            print(f"| {os.path.basename(d)} | error {e} |")
            continue
        r, sn, sl, b = s["req"], s["sl_norm"], s["sl_long"], s["busy"]
        print(f"| {os.path.basename(d)} | {f1(s['sel_per_s_per_worker'])} | "
              f"{f2(pct(r,50))} [{f2(pct(r,10))},{f2(pct(r,90))}] | {len(sn)}, {f2(pct(sn,50))} | "
              f"{len(sl)}, {f1(pct(sl,50))} [{f1(pct(sl,10))},{f1(pct(sl,90))}] | "
              f"{f1(pct(b,50))} [{f1(pct(b,10))},{f1(pct(b,90))}] | {f2(s['cpu_per_cycle'])} | "
              f"{f1(pct(s['phase_in'],50))} | {f2(pct(s['phase_out'],50))} [{f2(pct(s['phase_out'],90))}] | {s['errs']} |")
    print()
    cp = os.path.join(out, "strace", "clock-w2l80q", "strace.txt")
    if os.path.exists(cp):
        sl = clock_slices(cp)
        if sl:
            cpu = [x[0] for x in sl]
            wall = [x[1] for x in sl]
            print("### Busy-slice timing evidence (all clock_gettime calls traced, W=2 L=80 under quota)\n")
            print(f"{len(sl)} slices. CPU-clock span (last - first CLOCK_PROCESS_CPUTIME_ID read of a slice): "
                  f"p50 {f2(pct(cpu,50))} ms [min {f2(min(cpu))}, max {f2(max(cpu))}]; wall span of the same "
                  f"slices: p50 {f1(pct(wall,50))} ms [p10 {f1(pct(wall,10))}, p90 {f1(pct(wall,90))}, max {f1(max(wall))}]; "
                  f"CPU-clock reads per slice p50 {pct([x[2] for x in sl],50):.0f}.\n")


def section_spin(out):
    print("## Spinning probe inside the group (gaps > 50 us = not running)\n")
    print("Per full period: run = probe running time; first/last = first run start / last run end "
          "after the boundary; span = last - first; short gaps = gaps < 10 ms inside the span (CPU shared "
          "with a hog); grp = group CPU in the period; probe share = run / grp.\n")
    print("| config | periods | probe CPU ms/s | run ms p50 | first ms p50 | last ms p50 [p10,p90] | span ms p50 | short gaps/period, total ms p50 | run/span p50 | grp ms p50 | probe share p50 | gap len ms: p50, p90, max | other CPUs |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for d in sorted(glob.glob(os.path.join(out, "spin", "*"))):
        try:
            s = spin_summary(d)
        except (OSError, KeyError, IndexError, ValueError) as e:
            print(f"| {os.path.basename(d)} | error {e} |")
            continue
        per = s["per"]
        if not per:
            continue
        g = s["gaps"]
        run = [p["run"] for p in per]
        oth = host_other(d, s["cgs"])
        print(f"| {os.path.basename(d)} | {len(per)} | {f1(s['cpu_ms_per_s'])} | {f1(pct(run,50))} | "
              f"{f1(pct([p['first'] for p in per],50))} | {f1(pct([p['last'] for p in per],50))} "
              f"[{f1(pct([p['last'] for p in per],10))},{f1(pct([p['last'] for p in per],90))}] | "
              f"{f1(pct([p['span'] for p in per],50))} | {f1(pct([p['nshort'] for p in per],50))}, "
              f"{f1(pct([p['short'] for p in per],50))} | {f2(pct([p['run']/p['span'] if p['span'] else 0 for p in per],50))} | "
              f"{f1(pct([p['grp'] for p in per],50))} | {f2(pct([p['run']/p['grp'] if p['grp'] else 0 for p in per],50))} | "
              f"{f2(pct(g,50))}, {f2(pct(g,90))}, {f1(max(g) if g else 0)} | {f2(oth)} |")
    print()


def section_lat(out):
    print("## Latency of independent arrivals (sleep U(0,100 ms), then X us of CPU)\n")
    print("total = finish - arrival (arrival = the absolute sleep deadline); waited = fraction with "
          "total > 2X + 3 ms.\n")
    print("| config | X us | n | p50 ms | p90 ms | p99 ms | max ms | mean ms | waited | wake-late p50/p99 ms | group usage ms/100ms | thr/periods | thr_time ms/period | other CPUs |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    phase = []
    for d in sorted(glob.glob(os.path.join(out, "lat", "*"))):
        for x in (0, 200, 2000):
            if not os.path.exists(os.path.join(d, f"lat-x{x}.txt")):
                continue
            try:
                r = lat_summary(d, x)
            except (OSError, KeyError, IndexError, ValueError, ZeroDivisionError) as e:
                print(f"| {os.path.basename(d)} | {x} | error {e} |")
                continue
            c = r.get("cgs", {})
            u = c.get("usage_per_100ms", float("nan"))
            print(f"| {os.path.basename(d)} | {x} | {r['n']} | {f2(r['p50'])} | {f1(r['p90'])} | {f1(r['p99'])} | "
                  f"{f1(r['max'])} | {f1(r['mean'])} | {f2(r['waited'])} | {f2(r['wl_p50'])}/{f1(r['wl_p99'])} | {f1(u)} | "
                  f"{c.get('throttled', '-')}/{c.get('periods', '-')} | {f1(c.get('thr_time_per_period_ms', float('nan')))} | "
                  f"{f2(r.get('other', float('nan')))} |")
            if "phase_bins" in r:
                phase.append((os.path.basename(d), x, r["phase_bins"]))
    print()
    if phase:
        print("Median latency (ms) by arrival phase after the period boundary (10 ms bins; n in parentheses):\n")
        print("| config | X | " + " | ".join(f"{10*k}-{10*k+10}" for k in range(10)) + " |")
        print("|---|---|" + "---|" * 10)
        for (tag, x, b) in phase:
            cells = []
            for k in range(10):
                if k in b:
                    n, med, mx = b[k]
                    cells.append(f"{f1(med)} ({n})")
                else:
                    cells.append("-")
            print(f"| {tag} | {x} | " + " | ".join(cells) + " |")
        print()


def section_mem(out):
    print("## Memory cgroup (limit 128 MiB)\n")
    for d in sorted(glob.glob(os.path.join(out, "mem", "*"))):
        print(f"### {os.path.basename(d)}\n")
        try:
            samp = open(os.path.join(d, "samples.txt")).read().splitlines()
            fin = open(os.path.join(d, "final.txt")).read()
        except OSError:
            continue
        us = [int(m.group(1)) for l in samp for m in [re.search(r"usage=(\d+)", l)] if m]
        oom = [int(m.group(1)) for l in samp for m in [re.search(r"oom_kill=(\d+)", l)] if m]
        print(f"usage_in_bytes: max sampled {max(us)/2**20:.1f} MiB, last {us[-1]/2**20:.1f} MiB; "
              f"oom_kill at end of sampling: {oom[-1] if oom else '?'}\n")
        print("```")
        # processes at the sample with the highest usage
        best, cur, curu = [], [], -1
        bu = -1
        for l in samp:
            if l.startswith("t="):
                if cur and curu > bu:
                    best, bu = cur, curu
                cur = [l]
                curu = int(re.search(r"usage=(\d+)", l).group(1))
            else:
                cur.append(l)
        if cur and curu > bu:
            best = cur
        print("\n".join(best))
        keep = re.compile(r"^(==|\d|oom_kill|under_oom|total_rss |total_cache |app )")
        lines = fin.strip().splitlines()
        print("\n".join(l for l in lines if keep.match(l) and "dmesg" not in l))
        try:
            dm = open(os.path.join(d, "dmesg.txt")).read().splitlines()
        except OSError:
            dm = lines
        kills = [l for l in dm if "Killed process" in l]
        victims = defaultdict(int)
        for l in kills:
            m = re.search(r"Killed process \d+ \(([^)]*)\).*oom_score_adj:(-?\d+)", l)
            if m:
                victims[f"{m.group(1)} (oom_score_adj {m.group(2)})"] += 1
        print(f"== dmesg: {len(kills)} 'Killed process' lines; victims: {dict(victims)}")
        for l in kills[:2]:
            print(l.strip())
        cons = [l for l in dm if "constraint=" in l][:1]
        for l in cons:
            print(l.strip())
        try:
            print(open(os.path.join(d, "stress-ng.log")).read().strip())
        except OSError:
            pass
        print("```\n")


def main():
    out = sys.argv[1]
    print(f"# run-cfs.sh results: {out}\n")
    envp = os.path.join(out, "env.txt")
    if os.path.exists(envp):
        print("## Environment\n\n```\n" + open(envp).read().strip() + "\n```\n")
    if os.path.isdir(os.path.join(out, "cpu")):
        section_cpu(out)
    if os.path.isdir(os.path.join(out, "strace")):
        section_strace(out)
    if os.path.isdir(os.path.join(out, "spin")):
        section_spin(out)
    if os.path.isdir(os.path.join(out, "lat")):
        section_lat(out)
    if os.path.isdir(os.path.join(out, "mem")):
        section_mem(out)


if __name__ == "__main__":
    main()
