#!/usr/bin/env python3
"""Figures of bench/migration.sh from its raw samples: `bench:` lines and docs/benchmarks.md.

    bench/migration_report.py --samples FILE --raw DIR --engine-log LOG [--engine-log LOG]
                              --runs N [--doc docs/benchmarks.md]

Inputs (written by migration.sh): one JSON object per run in --samples (its id names the files
in --raw: ID.before/ID.after counter snapshots, ID.vmi.json the VMI after the run, ID.jobinfo
`virsh domjobinfo` blocks each after "@@ EPOCH", ID.watch timestamped watch lines), and the
engines' text logs (UTC timestamps with milliseconds). Times from the bench's side are
$EPOCHREALTIME of the same clock.
"""

import argparse
import datetime
import json
import math
import os
import platform
import re
import statistics
import subprocess
import sys

LOG_RE = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3})Z (\w+) "
                    r"(migration started|aborting migration|migration ended|raising the allowed downtime) ?(.*)$")
FIELD_RE = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*"|\S*)')
UNITS = {"B": 1, "bytes": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40}


def log_events(paths):
    """[(epoch, message, fields)] of the engines' migration lines, in time order."""
    out = []
    for path in paths:
        with open(path, errors="replace") as f:
            for line in f:
                m = LOG_RE.match(line.rstrip("\n"))
                if not m:
                    continue
                ts = datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S.%f").replace(
                    tzinfo=datetime.timezone.utc).timestamp()
                fields = {k: v[1:-1] if v.startswith('"') else v
                          for k, v in FIELD_RE.findall(m.group(4))}
                out.append((ts, m.group(3), fields))
    out.sort(key=lambda e: e[0])
    return out


def first(events, message, after, **match):
    for ts, msg, fields in events:
        if msg == message and ts >= after and all(fields.get(k) == v for k, v in match.items()):
            return ts, fields
    return None, None


def counters(path):
    out = {}
    with open(path) as f:
        for line in f:
            name, value = line.split()
            out[name] = float(value)
    return out


def deltas(raw, rid):
    before, after = counters(f"{raw}/{rid}.before"), counters(f"{raw}/{rid}.after")
    return {k: after.get(k, 0) - before.get(k, 0) for k in set(before) | set(after)}


def jobinfo(path):
    """[{field: value}] of the domjobinfo blocks; sizes in bytes, times in ms."""
    blocks, cur = [], None
    with open(path, errors="replace") as f:
        for line in f:
            if line.startswith("@@ "):
                cur = {"@": float(line[3:])}
                blocks.append(cur)
                continue
            if cur is None or ":" not in line:
                continue
            key, value = (s.strip() for s in line.split(":", 1))
            parts = value.split()
            if len(parts) == 2 and parts[1].endswith("/s"):
                parts[1] = parts[1][:-2]
            if len(parts) == 2 and parts[1] in UNITS:
                cur[key] = float(parts[0]) * UNITS[parts[1]]
            elif len(parts) >= 1:
                try:
                    cur[key] = float(parts[0])
                except ValueError:
                    cur[key] = value
    return [b for b in blocks if b.get("Job type") == "Unbounded"]


def quantity_bytes(q):
    m = re.fullmatch(r"(\d+)(Ki|Mi|Gi)?", q)
    return int(m.group(1)) * {None: 1, "Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30}[m.group(2)]


def pct(values, p):
    """The p-th percentile, nearest rank (of 5 values, p95 and p99 are the largest)."""
    v = sorted(values)
    return v[max(0, math.ceil(p / 100 * len(v)) - 1)]


def ms(x):
    return f"{x * 1e3:.0f}"


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--samples", required=True)
    p.add_argument("--raw", required=True)
    p.add_argument("--engine-log", action="append", required=True)
    p.add_argument("--runs", type=int, required=True)
    p.add_argument("--doc")
    p.add_argument("--no-doc", action="store_true", help="print only (a partial run)")
    a = p.parse_args()
    runs = [json.loads(l) for l in open(a.samples) if l.strip()]
    events = log_events(a.engine_log)
    lines, notes = [], []

    def vmi(rid):
        return json.load(open(f"{a.raw}/{rid}.vmi.json"))

    def started(r):
        ts, _ = first(events, "migration started", r["t_create0"], vmim=r["vmim"])
        if ts is None:
            sys.exit(f"no 'migration started' for {r['vmim']} in the engine logs")
        return ts

    # Full path against virsh.
    full = [r["t_done"] - r["t_create0"] for r in runs if r.get("kind") == "full"]
    virsh = [r["t1"] - r["t0"] for r in runs if r.get("kind") == "virsh"]
    if full and virsh:
        mf, mv = statistics.median(full), statistics.median(virsh)
        limit = 1.10 * mv + 0.3
        lines.append(f"bench: migration_full_path_median_s value={mf:.3f} baseline={mv:.3f} "
                     f"ratio={mf / mv:.3f} overhead_s={mf - mv:.3f} limit_s={limit:.3f} "
                     f"({'met' if mf <= limit else 'NOT met'}: <= 1.10 x baseline + 0.3 s)")
        notes.append("full path per round (kubectl migrate --wait / virsh migrate, s): " + ", ".join(
            f"{f:.2f}/{v:.2f}" for f, v in zip(full, virsh)))

    # Where the full path's time goes: VMIM created -> started, started -> ended (engine log).
    split = []
    for r in runs:
        if r.get("kind") != "full":
            continue
        s = started(r)
        e, _ = first(events, "migration ended", s, vmim=r["vmim"])
        split.append((s - r["t_create0"], e - s, r["t_done"] - e))
    if split:
        notes.append("full path split, medians (s): kubectl start + create -> 'migration started' "
                     f"{statistics.median(x[0] for x in split):.3f}, 'migration started' -> "
                     f"'migration ended' {statistics.median(x[1] for x in split):.3f}, "
                     f"'migration ended' -> kubectl exits {statistics.median(x[2] for x in split):.3f}")

    # VMIM created -> migration started.
    upper = [started(r) - r["t_create0"] for r in runs if "vmim" in r]
    created = [r for r in runs if "t_create1" in r]
    lower = [started(r) - r["t_create1"] for r in created]
    if lower:
        lines.append(f"bench: migration_job_start_p95_ms value={ms(pct(lower, 95))} "
                     f"median={ms(statistics.median(lower))} max={ms(max(lower))} n={len(lower)} "
                     f"limit=300 ({'met' if pct(lower, 95) <= 0.3 else 'NOT met'}; from kubectl create's exit)")
        lines.append(f"bench: migration_job_start_upper_p95_ms value={ms(pct(upper, 95))} "
                     f"median={ms(statistics.median(upper))} n={len(upper)} "
                     "(from the start of the command that created the VMIM)")

    # Cancel.
    seen, abort_at, ended_after = [], [], []
    for r in runs:
        if not r["id"].startswith("cancel-"):
            continue
        t0 = r["t_delete0"]
        ok = [float(l.split()[0]) for l in open(f"{a.raw}/{r['id']}.watch")
              if l.split()[1:] == ["Succeeded"] and float(l.split()[0]) >= t0]
        seen.append(ok[0] - t0)
        ab, _ = first(events, "aborting migration", t0, domain=r["domain"], reason="Cancelled")
        en, f = first(events, "migration ended", t0, vmim=r["vmim"])
        if f.get("outcome") != "Cancelled":
            notes.append(f"cancel run {r['id']}: outcome {f.get('outcome')}")
        abort_at.append(ab - t0)
        ended_after.append(en - ab)
    vc = [r["t1"] - r["t0"] for r in runs if r.get("kind") == "virsh_cancel"]
    if seen:
        lines.append(f"bench: migration_cancel_p99_ms value={ms(pct(seen, 99))} "
                     f"median={ms(statistics.median(seen))} n={len(seen)} limit=1000 "
                     f"({'met' if pct(seen, 99) <= 1.0 else 'NOT met'}; kubectl delete -> "
                     f"abortStatus Succeeded seen by a watch)")
        lines.append(f"bench: migration_cancel_engine_ms delete_to_abortjob_median={ms(statistics.median(abort_at))} "
                     f"max={ms(max(abort_at))} abortjob_to_ended_median={ms(statistics.median(ended_after))} "
                     f"max={ms(max(ended_after))}")
    if vc:
        lines.append(f"bench: migration_cancel_virsh_baseline_ms median={ms(statistics.median(vc))} "
                     f"max={ms(max(vc))} n={len(vc)} (virsh domjobabort -> virsh migrate exits, same guest's twin)")

    # Bandwidth and forecast.
    fc = []
    def bw_ratio(rid, bw):
        """Memory bytes over elapsed time from the second sample to the last, over the limit,
        and QEMU's own reported bandwidth over the limit for each sample."""
        blocks = [b for b in jobinfo(f"{a.raw}/{rid}.jobinfo")
                  if b.get("Memory processed", 0) > 0 and "Time elapsed" in b]
        if len(blocks) < 4:
            notes.append(f"{rid}: only {len(blocks)} domjobinfo samples")
            return None, []
        b0, b1 = blocks[1], blocks[-1]
        rate = (b1["Memory processed"] - b0["Memory processed"]) / (
            (b1["Time elapsed"] - b0["Time elapsed"]) / 1e3)
        return rate / (bw << 20), [b["Memory bandwidth"] / (bw << 20) for b in blocks[1:]
                                   if "Memory bandwidth" in b]

    for bw in (50, 100):
        ratios, qemu, base = [], [], []
        for r in runs:
            if r["id"].startswith(f"virsh-bw{bw}-"):
                x, _ = bw_ratio(r["id"], bw)
                if x is not None:
                    base.append(x)
            if not r["id"].startswith(f"bw{bw}-"):
                continue
            x, q = bw_ratio(r["id"], bw)
            if x is None:
                continue
            ratios.append(x)
            qemu.extend(q)
            ms_state = vmi(r["id"])["status"]["migrationState"]
            cfg = ms_state.get("migrationConfiguration", {}).get("bandwidthPerMigration")
            if cfg != f"{bw}Mi":
                notes.append(f"{r['id']}: migrationConfiguration.bandwidthPerMigration={cfg}")
            f = ms_state.get("forecast", {}).get("durationSeconds")
            if f and ms_state.get("durationMs"):
                fc.append((bw, f, ms_state["durationMs"] / 1e3))
        if ratios:
            lines.append(f"bench: migration_bandwidth_{bw}mib ratio={statistics.median(ratios):.3f} "
                         f"min={min(ratios):.3f} max={max(ratios):.3f} n={len(ratios)} "
                         f"achieved_mib_s={statistics.median(ratios) * bw:.2f} configured_mib_s={bw} "
                         f"qemu_reported_ratio_median={statistics.median(qemu):.3f} "
                         + (f"virsh_bandwidth_ratio={statistics.median(base):.3f} n={len(base)} " if base else "")
                         + f"({'met' if all(abs(x - 1) <= 0.05 for x in ratios) else 'NOT met'}: within +-5%)")
    # The full path's migrations too (unlimited bandwidth: the engine's assumed link rate).
    fc_unlimited = []
    for r in runs:
        if r.get("kind") == "full":
            st = vmi(r["id"])["status"]["migrationState"]
            f = st.get("forecast", {}).get("durationSeconds")
            if f and st.get("durationMs"):
                fc_unlimited.append((f, st["durationMs"] / 1e3))
    if fc_unlimited:
        fr = [f / d for f, d in fc_unlimited]
        lines.append(f"bench: migration_forecast_ratio_unlimited median={statistics.median(fr):.3f} "
                     f"min={min(fr):.3f} max={max(fr):.3f} "
                     f"within_25pct={sum(1 for x in fr if abs(x - 1) <= 0.25)}/{len(fr)} "
                     "(the full path's migrations, bandwidth unlimited)")
        notes.append("forecast/actual (s), full path: " + ", ".join(f"{f:.1f}/{d:.1f}" for f, d in fc_unlimited))
    if fc:
        fr = [f / d for _, f, d in fc]
        inside = sum(1 for x in fr if abs(x - 1) <= 0.25)
        lines.append(f"bench: migration_forecast_ratio median={statistics.median(fr):.3f} "
                     f"min={min(fr):.3f} max={max(fr):.3f} within_25pct={inside}/{len(fr)} "
                     f"({'met' if inside == len(fr) else 'NOT met'}; forecast durationSeconds / durationMs)")
        notes.append("forecast/actual (s) per run: " + ", ".join(
            f"{bw}Mi {f:.1f}/{d:.1f}" for bw, f, d in fc))

    # Timeouts.
    for kind, reason in (("completion", "CompletionTimeout"), ("progress", "ProgressTimeout")):
        late, stalled = [], []
        for r in runs:
            if not r["id"].startswith(kind + "-"):
                continue
            st = vmi(r["id"])["status"]["migrationState"]
            cfg = st.get("migrationConfiguration", {})
            s = started(r)
            ab, f = first(events, "aborting migration", s, domain=r["domain"])
            if ab is None or f.get("reason") != reason:
                notes.append(f"{r['id']}: aborted for {f and f.get('reason')}, not {reason}")
                continue
            if kind == "completion":
                mem = quantity_bytes(vmi(r["id"])["spec"]["domain"]["memory"]["guest"])
                t = cfg["completionTimeoutPerGiB"] * math.ceil(mem / (1 << 30))
                late.append(ab - s - t)
            else:
                # The engine's message has whole seconds. Its "raising the allowed downtime"
                # lines say how long it had stalled at that poll, counted from the later of the
                # last progress and the previous step: the stall started at (line's time - that)
                # at the first step, and again whenever progress came between two steps (the
                # size where passes stopped shrinking changes then).
                t = cfg["progressTimeout"]
                stall, best = None, None
                for ts, msg, rf in events:
                    if msg != "raising the allowed downtime" or rf.get("domain") != r["domain"] or \
                            not s <= ts <= ab:
                        continue
                    m = re.search(r"stalled for (\d+) ms.*\(step (\d+) of.*stopped shrinking at ([^)]*)\)",
                                  rf.get("why", ""))
                    if not m:
                        continue
                    if m.group(2) == "1" or m.group(3) != best:
                        stall = ts - int(m.group(1)) / 1e3
                    best = m.group(3)
                if stall is None:
                    notes.append(f"{r['id']}: no downtime step before the abort: stall start unknown")
                    continue
                late.append(ab - stall - t)
        if late:
            inside = sum(1 for x in late if 0 <= x <= 1)
            what = ("'aborting migration' - 'migration started' - T" if kind == "completion"
                    else "'aborting migration' - stall start - T")
            lines.append(f"bench: migration_{kind}_timeout_late_ms median={ms(statistics.median(late))} "
                         f"min={ms(min(late))} max={ms(max(late))} T_s={t} within_0_1s={inside}/{len(late)} "
                         f"({'met' if inside == len(late) else 'NOT met'}; {what})")

    # Status writes.
    groups = {"succeeded": lambda i: i.startswith(("full-", "bw")),
              "cancelled": lambda i: i.startswith("cancel-"),
              "timed out": lambda i: i.startswith(("completion-", "progress-"))}
    for name, pick in groups.items():
        ids = [r["id"] for r in runs if pick(r["id"]) and os.path.exists(f"{a.raw}/{r['id']}.after")]
        if not ids:
            continue
        eng, api_status, api_all, per_run = [], [], [], []
        for rid in ids:
            d = deltas(a.raw, rid)
            eng.append(d.get("engine_node01", 0) + d.get("engine_node02", 0))
            dur = ""
            if os.path.exists(f"{a.raw}/{rid}.vmi.json"):
                dur_ms = vmi(rid)["status"].get("migrationState", {}).get("durationMs")
                dur = f" in {dur_ms / 1e3:.1f} s" if dur_ms else ""
            per_run.append(f"{eng[-1]:.0f} (VMI {d.get('api_virtualmachineinstances/status/PATCH', 0):.0f}, "
                           f"VMIM {d.get('api_virtualmachineinstancemigrations/status/PATCH', 0):.0f}){dur}")
            api_status.append(sum(v for k, v in d.items() if k.startswith("api_") and "/status/" in k))
            api_all.append(sum(v for k, v in d.items() if k.startswith("api_") and not k.endswith("/POST")
                               and not k.endswith("/DELETE")))
        lines.append(f"bench: migration_status_writes_{name.replace(' ', '_')} "
                     f"engine_median={statistics.median(eng):.0f} engine_max={max(eng):.0f} "
                     f"api_status_median={statistics.median(api_status):.0f} "
                     f"api_patch_update_median={statistics.median(api_all):.0f} n={len(ids)} limit=10 "
                     f"({'met' if max(eng) <= 10 else 'NOT met'})")
        notes.append(f"status writes per {name} migration (engine counter; status patches of the VMI and "
                     f"the VMIM; migration duration): " + "; ".join(per_run))

    load = [f"{r['id'][5:]} {r['load']}" for r in runs if r["id"].startswith("load-")]
    if load:
        notes.append("load average (1 min) at the start of each part: " + ", ".join(load))
    for l in lines:
        print(l)
    for n in notes:
        print("  " + n, file=sys.stderr)
    if a.doc and not a.no_doc:
        began = min(r.get("t_create0", r.get("t0", float("inf"))) for r in runs)
        write_doc(a.doc, lines, notes, a.runs, began)


def machine():
    def sh(cmd):
        try:
            return subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout.strip()
        except OSError:
            return "?"
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    mem = next((int(l.split()[1]) >> 20 for l in open("/proc/meminfo") if l.startswith("MemTotal")), 0)
    qemu = sh(["qemu-system-x86_64", "--version"]).split("\n")[0]
    libvirt = sh(["libvirtd", "--version"])
    return (f"{platform.system()} {platform.release()} {platform.machine()}, {os.cpu_count()} CPUs "
            f"({cpu}), {mem} GiB; {libvirt}; {qemu}")


def write_doc(doc, lines, notes, runs, began):
    now = datetime.datetime.fromtimestamp(began, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    section = f"""## Migration (engine) (bench/migration.sh)

Run {now} on {machine()}.
Two libvirt nodes on this machine (tests/e2e/nodes.sh), devcluster, both migration-engines in
their nodes' mount namespaces, the TCG test guest (tests/e2e/guest, km.spin=1: each running guest
keeps one host CPU busy). {runs} runs per figure; percentiles are nearest-rank (of 5 runs, p95 and
p99 are the slowest run). Targets: design.md section 7.

- full path: wall time of `kubectl migrate VMI --wait` against `virsh migrate --live --p2p
  --persistent --undefinesource` of an identical domain (the engine's domain XML under another
  name) that the engine does not manage; 192 MiB guests, 32 MiB of random memory, not dirtying,
  unlimited bandwidth on both sides; one warm-up round, then rounds interleaved, the order
  alternating, both VMs moving the same way.
- job start: from kubectl create's exit (its start, for the upper line; `kubectl migrate`'s
  start in the full-path runs) to the source engine's "migration started" log line, which
  precedes the libvirt call on the runner's thread; every migration of the run.
- cancel: a 512 MiB guest (384 MiB random, dirtying 4 MiB/s) at 5 MiB/s, `kubectl delete vmim`
  2 s after Running; until the VMI's abortStatus Succeeded arrives on a `kubectl get -w`; the
  engine's share from its log ("aborting migration" is logged right before virDomainAbortJob,
  "migration ended" when the libvirt call has returned). Baseline, interleaved: `virsh migrate
  --bandwidth 5` of the guest's virsh twin, `virsh domjobabort` 2 s into its job, until `virsh
  migrate` exits.
- bandwidth: the libvirt job's memory bytes processed over its elapsed time, from `virsh
  domjobinfo` every 0.25 s (second sample to last), the same 512 MiB guest, at
  bandwidthPerMigration 50Mi and 100Mi; qemu_reported is QEMU's own "Memory bandwidth" in the
  same samples. Baseline, interleaved: `virsh migrate --bandwidth 50|100` of the guest's twin,
  measured the same way. The forecast is checked on these migrations (durationMs counts from the
  libvirt call to its return, so it includes starting the target's QEMU).
- timeouts: completionTimeoutPerGiB 5 (T = 5 s, 512 MiB rounds up to 1 GiB) at 5 MiB/s, from
  "migration started"; progressTimeout 5 with a 256 MiB guest dirtying 64 MiB at 60 MiB/s through
  20 MiB/s, from the stall's start that the engine's "raising the allowed downtime" lines give
  ("stalled for N ms", ± the engine's poll-to-log delay: about 0.1-0.3 s here).
- status writes: migration_engine_status_writes_total of both engines (delta per migration), and
  devcluster's apiserver_request_total of VMIs and VMIMs: status-subresource writes, and all
  PATCH/UPDATE (finalizers and labels included).

```
{chr(10).join(lines)}
```

Per run:
{chr(10).join("- " + n for n in notes)}
"""
    text = open(doc).read() if os.path.exists(doc) else "# Benchmarks\n"
    pat = re.compile(r"## Migration \(engine\) \(bench/migration\.sh\)\n.*?(?=\n## |\n<!-- |\Z)", re.S)
    text = pat.sub(lambda _: section.rstrip("\n") + "\n", text) if pat.search(text) else \
        text.rstrip("\n") + "\n\n" + section
    with open(doc, "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
