#!/usr/bin/env python3
"""Side-by-side reverse-proxy benchmark on one machine: gatehouse against nginx, HAProxy and Caddy.

One nginx backend (pinned to CPU 0) serves a small body on / and 64 KiB on /big.
Each proxy under test is pinned to CPU 1 and listens on 127.0.0.1:8080; wrk runs on CPU 0.
Proxies are measured in alternating rounds so that machine drift hits all of them alike.

Figures per proxy and workload (medians over rounds):
  rps          requests per second seen by wrk
  cpu_us_req   CPU time of the proxy's whole process tree per request (user+sys), the steadiest figure
  p50/p99_us   wrk latency percentiles
  rss_mb       peak resident memory of the proxy process tree during the run (MiB)
  errors       responses other than 2xx/3xx; sock_err: wrk's socket errors (connect, read, write, timeout)
CPU per request is also given as a ratio to nginx, HAProxy and Caddy (those that were measured).

Usage:
  compare.py [--rounds N] [--secs S] [--conns C] [--workloads small,big,post,close]
             [--proxy NAME='COMMAND ...'] [--only nginx,haproxy,caddy,gatehouse,NAME]
             [--markdown] [--json FILE] [--no-build]
  compare.py --idle N [--only gatehouse,...]   idle keep-alive connections: the proxy's memory
The proxy command must listen on 127.0.0.1:8080 and forward to http://127.0.0.1:9001.
gatehouse is built from this checkout into bench/.bin/ (go build, from the repository root).
Needs: go, nginx, haproxy, caddy, wrk, taskset; bench/run installs what is missing.
"""
import argparse, http.client, json, os, re, signal, socket, statistics, subprocess, sys, threading, time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BIN = os.path.join(HERE, ".bin")
GATEHOUSE = os.path.join(BIN, "gatehouse")
IDLECONNS = os.path.join(BIN, "idleconns")
BACKEND_CONF = os.path.join(HERE, "backend-nginx.conf")
BIG_SIZE = 65536
ANCHORS = ("nginx", "haproxy", "caddy")
PROXIES = {
    "nginx": f"nginx -e /tmp/bench-proxy-nginx.err -c {HERE}/proxy-nginx.conf",
    "haproxy": f"haproxy -f {HERE}/proxy-haproxy.cfg",
    "caddy": f"caddy run --adapter caddyfile --config {HERE}/Caddyfile",
    "gatehouse": f"{GATEHOUSE} proxy --listen 127.0.0.1:8080 --to http://127.0.0.1:9001",
}
WORKLOADS = {
    "small": ("/", []),
    "big": ("/big", []),
    "post": ("/", ["-s", f"{HERE}/post4k.lua"]),
    "close": ("/", ["-s", f"{HERE}/close.lua"]),
}
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def big_path():
    """The file the backend serves on /big: whatever `alias` in backend-nginx.conf names."""
    m = re.search(r"location\s+/big\s*\{\s*alias\s+([^;\s]+)\s*;", open(BACKEND_CONF).read())
    if not m:
        raise SystemExit(f"{BACKEND_CONF}: no `location /big {{ alias FILE; }}`")
    return m.group(1)


def write_big():
    path = big_path()
    if not (os.path.isfile(path) and os.path.getsize(path) == BIG_SIZE):
        with open(path, "wb") as f:
            f.write(os.urandom(BIG_SIZE))
    os.chmod(path, 0o644)  # nginx's worker may run as nobody


def tree(pid):
    """pid and all its descendants, read from /proc (no procps needed)."""
    kids = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                ppid = int(open(f"/proc/{d}/stat").read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            kids.setdefault(ppid, []).append(int(d))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += kids.get(p, [])
    return out


def usage(pids):
    """CPU clock ticks (user+sys) and resident bytes, summed over pids."""
    ticks, rss = 0, 0
    for p in pids:
        try:
            f = open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()
            ticks += int(f[11]) + int(f[12])
            rss += int(f[21]) * PAGE
        except (OSError, IndexError, ValueError):
            pass
    return ticks, rss


def listening(port):
    try:
        socket.create_connection(("127.0.0.1", port), 0.2).close()
        return True
    except OSError:
        return False


def wait_port(port, proc, secs=15):
    end = time.time() + secs
    while time.time() < end:
        if listening(port):
            return True
        if proc.poll() is not None:
            return False
        time.sleep(0.05)
    return False


def port_free(port, secs=10):
    end = time.time() + secs
    while time.time() < end:
        if not listening(port):
            return True
        time.sleep(0.1)
    return False


def get(port, path):
    """(status, body length) of one GET, or (error text, 0)."""
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        c.request("GET", path)
        r = c.getresponse()
        n = len(r.read())
        c.close()
        return r.status, n
    except (OSError, http.client.HTTPException) as e:
        return str(e), 0


def start(name, cmd, cpu, port):
    if not port_free(port):
        raise SystemExit(f"something already listens on 127.0.0.1:{port}; stop it first")
    proc = subprocess.Popen(["taskset", "-c", str(cpu), "sh", "-c", "exec " + cmd], stdout=subprocess.DEVNULL,
                            stderr=open(f"/tmp/bench-{name}.log", "w"), start_new_session=True)
    if not wait_port(port, proc):
        stop(proc)
        raise SystemExit(f"{name}: nothing listens on 127.0.0.1:{port}; see /tmp/bench-{name}.log")
    return proc


def stop(proc):
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(10)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def wrk(path, extra, conns, secs):
    cmd = ["taskset", "-c", "0", "wrk", "-t1", f"-c{conns}", f"-d{secs}s", "--latency", *extra,
           f"http://127.0.0.1:8080{path}"]
    run = subprocess.run(cmd, capture_output=True, text=True)
    out = run.stdout

    def lat(q):
        m = re.search(rf"\s{q}%\s+([\d.]+)(us|ms|s)\b", out)
        return float(m.group(1)) * {"us": 1, "ms": 1e3, "s": 1e6}[m.group(2)] if m else float("nan")

    reqs = re.search(r"(\d+) requests in", out)
    if not reqs or not int(reqs.group(1)):
        log(f"WARNING: wrk completed no request on {path}" + (f": {run.stderr.strip()}" if run.stderr.strip() else ""))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errs = re.search(r"Socket errors: (.*)", out)
    return dict(reqs=int(reqs.group(1)) if reqs else 0,
                rps=float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)) if reqs else 0.0,
                p50_us=lat(50), p99_us=lat(99),
                errors=(int(bad.group(1)) if bad else 0),
                sock_err=sum(int(n) for n in re.findall(r"\d+", errs.group(1))) if errs else 0,
                socket_errors=errs.group(1) if errs else "")


def measure(name, cmd, workloads, conns, secs):
    proc = start(name, cmd, 1, 8080)
    try:
        for path in sorted({WORKLOADS[wl][0] for wl in workloads}):
            st, n = get(8080, path)
            if st != 200:
                log(f"WARNING: {name}: GET {path} answered {st}; see /tmp/bench-{name}.log")
        res = {}
        for wl in workloads:
            path, extra = WORKLOADS[wl]
            wrk(path, extra, conns, 1)  # warm-up
            pids = tree(proc.pid)
            t0, _ = usage(pids)
            peak = 0
            box = {}
            th = threading.Thread(target=lambda: box.update(wrk(path, extra, conns, secs)))
            th.start()
            while th.is_alive():
                pids = tree(proc.pid)
                peak = max(peak, usage(pids)[1])
                th.join(0.25)
            r = box
            t1, _ = usage(pids)
            r["cpu_us_req"] = (t1 - t0) / CLK_TCK * 1e6 / r["reqs"] if r["reqs"] else float("nan")
            r["rss_mb"] = peak / 2**20
            res[wl] = r
        return res
    finally:
        stop(proc)


def version(name, cmd):
    """One line naming the proxy's version, best effort."""
    exe = cmd.split()[0]
    try:
        if name == "nginx":
            out = subprocess.run([exe, "-v"], capture_output=True, text=True).stderr
            return out.strip().replace("nginx version: ", "")
        if name == "haproxy":
            out = subprocess.run([exe, "-v"], capture_output=True, text=True).stdout
            m = re.search(r"version (\S+)", out)
            return f"HAProxy {m.group(1)}" if m else ""
        if name == "caddy":
            out = subprocess.run([exe, "version"], capture_output=True, text=True).stdout
            return f"Caddy {out.split()[0]}" if out.split() else ""
        if name == "gatehouse":
            return subprocess.run([exe, "version"], capture_output=True, text=True).stdout.strip()
    except OSError:
        pass
    return ""


def build(idle):
    """go build gatehouse (and idleconns) from this checkout into bench/.bin/."""
    targets = [("bench/.bin/gatehouse", "./cmd/gatehouse")]
    if idle:
        targets.append(("bench/.bin/idleconns", "./bench/idleconns"))
    for out, pkg in targets:
        cmd = ["go", "build", "-o", out, pkg]
        log("(cd " + ROOT + " && " + " ".join(cmd) + ")")
        try:
            if subprocess.run(cmd, cwd=ROOT).returncode != 0:
                raise SystemExit(f"go build {pkg} failed")
        except FileNotFoundError:
            raise SystemExit("go is not installed (or not on PATH); it is needed to build gatehouse")


def median(xs):
    """The median of the numbers that are not NaN (a run in which wrk completed nothing), else NaN."""
    xs = [x for x in xs if x == x]
    return statistics.median(xs) if xs else float("nan")


def ratio(t, ref):
    if not ref or not ref["cpu_us_req"] > 0 or not t["cpu_us_req"] > 0:  # also false for NaN
        return "-"
    return f"{t['cpu_us_req'] / ref['cpu_us_req']:.2f}x"


def print_plain(table, proxies, workloads):
    anchors = [n for n in ANCHORS if n in table]
    hdr = (f"{'workload':8} {'proxy':14} {'rps':>9} {'cpu_us/req':>10} {'p50_us':>8} {'p99_us':>8} "
           f"{'rss_MiB':>7} {'errors':>6} {'sock_err':>8}" + "".join(f" {'vs ' + a:>10}" for a in anchors))
    print(hdr)
    for wl in workloads:
        for n in proxies:
            t = table[n][wl]
            print(f"{wl:8} {n:14} {t['rps']:9.0f} {t['cpu_us_req']:10.1f} {t['p50_us']:8.0f} {t['p99_us']:8.0f} "
                  f"{t['rss_mb']:7.1f} {t['errors']:6.0f} {t['sock_err']:8.0f}"
                  + "".join(f" {ratio(t, table[a][wl]):>10}" for a in anchors))
    print("(cpu_us/req: CPU time of the proxy per request, lower is better; vs X: that figure divided by X's)")


def print_markdown(table, proxies, workloads, a, versions):
    print("| workload | proxy | req/s | CPU µs/req | vs nginx | p50 µs | p99 µs | peak RSS MiB |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for wl in workloads:
        for n in proxies:
            t = table[n][wl]
            name = f"**{n}**" if n == "gatehouse" else n
            print(f"| {wl} | {name} | {t['rps']:,.0f} | {t['cpu_us_req']:.1f} | {ratio(t, table.get('nginx', {}).get(wl))} "
                  f"| {t['p50_us']:,.0f} | {t['p99_us']:,.0f} | {t['rss_mb']:.1f} |")
    print()
    cpu = ""
    try:
        cpu = re.search(r"model name\s*:\s*(.*)", open("/proc/cpuinfo").read()).group(1).strip()
    except (OSError, AttributeError):
        pass
    vs = ", ".join(v for v in versions.values() if v)
    cmd = f"bench/run --rounds {a.rounds} --secs {a.secs}"
    if a.conns != 50:
        cmd += f" --conns {a.conns}"
    if a.workloads != "small,big,post,close":
        cmd += f" --workloads {a.workloads}"
    if a.only:
        cmd += f" --only {a.only}"
    print(f"Medians of {a.rounds} alternating round{'s' if a.rounds != 1 else ''} of {a.secs} s per workload "
          f"(`wrk -t1 -c{a.conns}`), `{cmd}`"
          + (f" on {cpu}" if cpu else "") + ". "
          "Each proxy is pinned to one CPU; wrk and the nginx backend share the other. "
          "CPU µs/req is the user+system CPU time of the proxy's process tree per request, "
          "and *vs nginx* is that figure divided by nginx's (lower is better). "
          "small: GET of a 60-byte body; big: GET of 64 KiB; post: POST of 4 KiB; close: one request per connection."
          + (f" Versions: {vs}." if vs else ""))
    bad = [f"{n}/{wl}: {table[n][wl]['errors']:.0f} non-2xx, {table[n][wl]['sock_err']:.0f} socket errors"
           for wl in workloads for n in proxies if table[n][wl]["errors"] or table[n][wl]["sock_err"]]
    bad += [f"{n}/{wl}: no request completed" for wl in workloads for n in proxies if not table[n][wl]["rps"]]
    if bad:
        print()
        print("Errors (medians per run): " + "; ".join(bad) + ".")


def start_backend():
    write_big()
    be = start("backend-nginx", f"nginx -e /tmp/bench-backend-nginx.err -c {BACKEND_CONF}", 0, 9001)
    for path, size in (("/", None), ("/big", BIG_SIZE)):
        st, n = get(9001, path)
        if st != 200 or (size and n != size):
            stop(be)
            raise SystemExit(f"backend: GET {path} answered {st} with {n} bytes; see /tmp/bench-backend-nginx.err")
    return be


def idle(a, proxies):
    for n in proxies:
        if n != "gatehouse":
            log(f"note: {n}'s config caps connections (nginx worker_connections 4096, HAProxy maxconn 4000)")
            break
    be = start_backend()
    try:
        for n, c in proxies.items():
            proc = start(n, c, 1, 8080)
            try:
                pids = tree(proc.pid)
                log(f"{n}: {a.idle} idle connections (process {','.join(map(str, pids))})")
                r = subprocess.run(["taskset", "-c", "0", IDLECONNS, "-n", str(a.idle), "-addr", "127.0.0.1:8080",
                                    "-pid", ",".join(map(str, pids)), "-wait", f"{a.idle_wait}s"])
                if r.returncode != 0:
                    raise SystemExit(f"idleconns failed against {n}; see /tmp/bench-{n}.log")
            finally:
                stop(proc)
    finally:
        stop(be)


def main():
    ap = argparse.ArgumentParser(description="Side-by-side reverse-proxy benchmark (see bench/README.md).")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--secs", type=int, default=5)
    ap.add_argument("--conns", type=int, default=50)
    ap.add_argument("--workloads", default="small,big,post,close")
    ap.add_argument("--proxy", action="append", default=[], help="NAME='COMMAND' (listen on :8080, forward to :9001)")
    ap.add_argument("--only", default="", help="comma-separated proxies to measure, in this order")
    ap.add_argument("--json", default="", help="write all figures to this file")
    ap.add_argument("--markdown", action="store_true", help="print the table as Markdown, for README.md")
    ap.add_argument("--no-build", action="store_true", help="use bench/.bin/ as it is (bench/run has built it)")
    ap.add_argument("--idle", type=int, default=0, metavar="N",
                    help="instead: hold N idle keep-alive connections and report the proxy's RSS (gatehouse by default)")
    ap.add_argument("--idle-wait", type=int, default=3, metavar="S", help="with --idle: seconds to leave them idle")
    a = ap.parse_args()
    proxies = dict(PROXIES)
    for p in a.proxy:
        if "=" not in p:
            ap.error(f"--proxy {p!r}: give NAME='COMMAND'")
        n, c = p.split("=", 1)
        proxies[n] = c
    only = a.only or ("gatehouse" if a.idle else "")
    if only:
        unknown = [n for n in only.split(",") if n not in proxies]
        if unknown:
            ap.error(f"--only: unknown proxy {', '.join(unknown)} (known: {', '.join(proxies)})")
        proxies = {n: proxies[n] for n in only.split(",")}
    workloads = a.workloads.split(",")
    for wl in workloads:
        if wl not in WORKLOADS:
            ap.error(f"--workloads: unknown workload {wl} (known: {', '.join(WORKLOADS)})")
    if "gatehouse" in proxies or a.idle:
        if not a.no_build:
            build(a.idle)
        for exe in [GATEHOUSE] + ([IDLECONNS] if a.idle else []):
            if not os.access(exe, os.X_OK):
                raise SystemExit(f"{exe} is missing: run bench/run, or compare.py without --no-build")
    # Keep this script (sampling /proc) off the proxy's CPU.
    os.sched_setaffinity(0, {0})
    if a.idle:
        idle(a, proxies)
        return
    versions = {n: version(n, c) for n, c in proxies.items() if n in PROXIES}
    be = start_backend()
    runs = {n: [] for n in proxies}
    try:
        for rnd in range(a.rounds):
            for n, c in proxies.items():
                runs[n].append(measure(n, c, workloads, a.conns, a.secs))
                log(f"round {rnd + 1}/{a.rounds} {n} done")
    finally:
        stop(be)
    table = {}
    for n, rs in runs.items():
        table[n] = {}
        for wl in workloads:
            table[n][wl] = {k: median(r[wl][k] for r in rs)
                            for k in ("rps", "cpu_us_req", "p50_us", "p99_us", "rss_mb", "errors", "sock_err")}
    if a.markdown:
        print_markdown(table, proxies, workloads, a, versions)
    else:
        print_plain(table, proxies, workloads)
    if a.json:
        meta = dict(rounds=a.rounds, secs=a.secs, conns=a.conns, workloads=workloads, commands=proxies,
                    versions=versions, time=time.strftime("%Y-%m-%dT%H:%M:%S%z"))
        with open(a.json, "w") as f:
            json.dump(dict(meta=meta, median=table, runs=runs), f, indent=1)


if __name__ == "__main__":
    main()
