#!/usr/bin/env python3
"""Side-by-side reverse-proxy benchmark on one machine: gatehouse against nginx, HAProxy and Caddy.

One nginx backend (pinned to CPU 0) serves a small body on / and 64 KiB on /big.
Each proxy under test is pinned to CPU 1 and listens on 127.0.0.1:8080; wrk runs on CPU 0.
For the TLS workloads (tls, tlshs; only when asked for with --workloads) the proxy listens with TLS
on 127.0.0.1:8443 instead, with the certificate bench/mkcert writes to /tmp/bench-tls/, and the
client of tlshs is bench/tlsload (a new connection and a full handshake per request), not wrk.
Proxies are measured in alternating rounds so that machine drift hits all of them alike.

Figures per proxy and workload (medians over rounds):
  rps          requests per second seen by wrk
  cpu_us_req   CPU time of the proxy's whole process tree per request (user+sys), the steadiest figure
  p50/p99_us   wrk latency percentiles
  rss_mb       peak resident memory of the proxy process tree during the run (MiB)
  errors       responses other than 2xx/3xx; sock_err: wrk's socket errors (connect, read, write, timeout)
CPU per request is also given as a ratio to nginx, HAProxy and Caddy (those that were measured).

Usage:
  compare.py [--rounds N] [--secs S] [--conns C] [--workloads small,big,post,close[,tls,tlshs]]
             [--proxy NAME='COMMAND ...'] [--proxy-tls NAME='COMMAND ...']
             [--only nginx,haproxy,caddy,gatehouse,NAME] [--markdown] [--json FILE] [--no-build]
  compare.py --idle N [--only gatehouse,...]   idle keep-alive connections: the proxy's memory
The proxy command must listen on 127.0.0.1:8080 and forward to http://127.0.0.1:9001; for the TLS
workloads, on 127.0.0.1:8443 with TLS (--proxy-tls gives another command for them).
gatehouse is built from this checkout into bench/.bin/ (go build, from the repository root), and
for the TLS workloads bench/.bin/mkcert and bench/.bin/tlsload too.
Needs: go, nginx, haproxy, caddy, wrk, taskset; bench/run installs what is missing.
"""
import argparse, http.client, json, os, re, resource, signal, socket, ssl, statistics, subprocess, sys, threading, time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BIN = os.path.join(HERE, ".bin")
GATEHOUSE = os.path.join(BIN, "gatehouse")
IDLECONNS = os.path.join(BIN, "idleconns")
MKCERT = os.path.join(BIN, "mkcert")
TLSLOAD = os.path.join(BIN, "tlsload")
TLS_DIR = "/tmp/bench-tls"
BACKEND_CONF = os.path.join(HERE, "backend-nginx.conf")
BIG_SIZE = 65536
ANCHORS = ("nginx", "haproxy", "caddy")
PROXIES = {
    "nginx": f"nginx -e /tmp/bench-proxy-nginx.err -c {HERE}/proxy-nginx.conf",
    "haproxy": f"haproxy -f {HERE}/proxy-haproxy.cfg",
    "caddy": f"caddy run --adapter caddyfile --config {HERE}/Caddyfile",
    "gatehouse": f"{GATEHOUSE} proxy --listen 127.0.0.1:8080 --to http://127.0.0.1:9001",
}
# The commands for the TLS workloads, where they differ from the ones above.
PROXIES_TLS = {
    "gatehouse": f"{GATEHOUSE} run -config {HERE}/gatehouse-tls.yaml",
}
PLAIN_PORT, TLS_PORT = 8080, 8443
# name: (path, wrk arguments); the TLS ones are on TLS_PORT, and tlshs is run by tlsload, not wrk.
WORKLOADS = {
    "small": ("/", []),
    "big": ("/big", []),
    "post": ("/", ["-s", f"{HERE}/post4k.lua"]),
    "close": ("/", ["-s", f"{HERE}/close.lua"]),
    "tls": ("/", []),
    "tlshs": ("/", []),
}
TLS_WORKLOADS = ("tls", "tlshs")
DEFAULT_WORKLOADS = "small,big,post,close"
CLK_TCK = os.sysconf("SC_CLK_TCK")
OTHER_PCT_WARN = 10  # warn when other processes used more than this % of one CPU during a run
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


def machine_ticks():
    """CPU clock ticks that both CPUs spent busy (anything but idle and iowait), from /proc/stat."""
    f = [int(x) for x in open("/proc/stat").readline().split()[1:]]
    return sum(f) - f[3] - f[4] - sum(f[8:])  # less idle, iowait, and guest (already in user)


def own_ticks(backend):
    """CPU clock ticks of the benchmark's own processes other than the proxy: the backend's tree, this
    script, and its children that have ended (wrk, tlsload)."""
    me, kids = os.times(), resource.getrusage(resource.RUSAGE_CHILDREN)
    return (usage(tree(backend))[0] if backend else 0) + (me.user + me.system + kids.ru_utime + kids.ru_stime) * CLK_TCK


def wait_quiet(backend, most=60):
    """Waits, up to most seconds, for a second in which other processes use at most OTHER_PCT_WARN %
    of a CPU; says so when the machine stays busy."""
    end = time.time() + most
    while True:
        m0, o0, w0 = machine_ticks(), own_ticks(backend), time.monotonic()
        time.sleep(1)
        other = max(0.0, machine_ticks() - m0 - (own_ticks(backend) - o0)) / CLK_TCK / (time.monotonic() - w0) * 100
        if other <= OTHER_PCT_WARN:
            return
        if time.time() > end:
            log(f"the machine is still busy (other processes use {other:.0f}% of a CPU); measuring anyway")
            return


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
    """(status, body length) of one GET, or (error text, 0). On TLS_PORT over TLS, verifying the
    certificate against bench/mkcert's CA (and that it holds 127.0.0.1)."""
    try:
        if port == TLS_PORT:
            ctx = ssl.create_default_context(cafile=f"{TLS_DIR}/ca.crt")
            c = http.client.HTTPSConnection("127.0.0.1", port, timeout=5, context=ctx)
        else:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        c.request("GET", path)
        r = c.getresponse()
        n = len(r.read())
        c.close()
        return r.status, n
    except (OSError, http.client.HTTPException) as e:
        return str(e), 0


def start(name, cmd, cpu, ports):
    """Starts cmd pinned to cpu and waits until it listens on port (an int) or on all of ports."""
    ports = [ports] if isinstance(ports, int) else ports
    for port in ports:
        if not port_free(port):
            raise SystemExit(f"something already listens on 127.0.0.1:{port}; stop it first")
    proc = subprocess.Popen(["taskset", "-c", str(cpu), "sh", "-c", "exec " + cmd], stdout=subprocess.DEVNULL,
                            stderr=open(f"/tmp/bench-{name}.log", "w"), start_new_session=True)
    for port in ports:
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


def wrk(path, extra, conns, secs, url="http://127.0.0.1:8080", client="wrk"):
    """Runs wrk (or tlsload, which prints the same summary) on CPU 0 and reads its figures."""
    if client == "tlsload":
        cmd = ["taskset", "-c", "0", TLSLOAD, f"-c={conns}", f"-d={secs}s", f"-path={path}",
               "-addr=" + url.split("://", 1)[1]]
    else:
        cmd = ["taskset", "-c", "0", "wrk", "-t1", f"-c{conns}", f"-d{secs}s", "--latency", *extra, url + path]
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
    resumed = re.search(r"Resumed sessions: (\d+)", out)
    if resumed and int(resumed.group(1)):
        log(f"WARNING: {resumed.group(1)} TLS sessions were resumed: not every handshake was a full one")
    return dict(reqs=int(reqs.group(1)) if reqs else 0,
                rps=float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)) if reqs else 0.0,
                p50_us=lat(50), p99_us=lat(99),
                errors=(int(bad.group(1)) if bad else 0),
                sock_err=sum(int(n) for n in re.findall(r"\d+", errs.group(1))) if errs else 0,
                socket_errors=errs.group(1) if errs else "")


def measure(name, cmd, workloads, conns, secs, tls_cmd=None, backend=0):
    """Figures for each workload. The plain ones and the TLS ones run against one start of cmd when
    tls_cmd is cmd (or None), else the TLS ones against a start of tls_cmd of their own. backend is
    the backend's pid, for telling the CPU used by other processes on the machine (other_pct)."""
    plain = [wl for wl in workloads if wl not in TLS_WORKLOADS]
    tls = [wl for wl in workloads if wl in TLS_WORKLOADS]
    tls_cmd = tls_cmd or cmd
    res = {}
    if tls_cmd == cmd and plain and tls:
        res.update(measure_one(name, cmd, plain + tls, conns, secs, backend))
    else:
        if plain:
            res.update(measure_one(name, cmd, plain, conns, secs, backend))
        if tls:
            res.update(measure_one(name, tls_cmd, tls, conns, secs, backend))
    return {wl: res[wl] for wl in workloads}


def measure_one(name, cmd, workloads, conns, secs, backend=0):
    ports = sorted({TLS_PORT if wl in TLS_WORKLOADS else PLAIN_PORT for wl in workloads})
    proc = start(name, cmd, 1, ports)
    try:
        for port in ports:
            for path in sorted({WORKLOADS[wl][0] for wl in workloads if (wl in TLS_WORKLOADS) == (port == TLS_PORT)}):
                st, n = get(port, path)
                if st != 200:
                    log(f"WARNING: {name}: GET {path} on :{port} answered {st}; see /tmp/bench-{name}.log")
                elif not n:
                    log(f"WARNING: {name}: GET {path} on :{port} answered an empty body, not the backend's")
        res = {}
        for wl in workloads:
            path, extra = WORKLOADS[wl]
            url = f"https://127.0.0.1:{TLS_PORT}" if wl in TLS_WORKLOADS else f"http://127.0.0.1:{PLAIN_PORT}"
            client = "tlsload" if wl == "tlshs" else "wrk"
            wrk(path, extra, conns, 1, url, client)  # warm-up
            pids = tree(proc.pid)
            t0, _ = usage(pids)
            m0, o0, w0 = machine_ticks(), own_ticks(backend), time.monotonic()
            peak = 0
            box = {}
            th = threading.Thread(target=lambda: box.update(wrk(path, extra, conns, secs, url, client)))
            th.start()
            while th.is_alive():
                pids = tree(proc.pid)
                peak = max(peak, usage(pids)[1])
                th.join(0.25)
            r = box
            t1, _ = usage(pids)
            m1, o1, w1 = machine_ticks(), own_ticks(backend), time.monotonic()
            # What the rest of the machine used meanwhile (other people's builds and tests, say), in
            # % of one CPU: the figures of a run during which it was much above 0 are not to be trusted.
            r["other_pct"] = max(0.0, (m1 - m0) - (t1 - t0) - (o1 - o0)) / CLK_TCK / (w1 - w0) * 100
            if r["other_pct"] > OTHER_PCT_WARN:
                log(f"WARNING: {name}/{wl}: other processes used {r['other_pct']:.0f}% of a CPU during the run; "
                    f"its figures are disturbed (see `top`)")
            r["cpu_us_req"] = (t1 - t0) / CLK_TCK * 1e6 / r["reqs"] if r["reqs"] else float("nan")
            # The proxy's CPU use during the run: near 100 when the proxy's CPU is what limits req/s.
            r["cpu_pct"] = r["cpu_us_req"] * r["rps"] / 1e4 if r["reqs"] else float("nan")
            r["rss_mb"] = peak / 2**20
            res[wl] = r
        return res
    finally:
        stop(proc)


def version(name, cmd, tls=False):
    """One line naming the proxy's version, best effort; with tls, its TLS library's too."""
    exe = cmd.split()[0]
    try:
        if name == "nginx":
            out = subprocess.run([exe, "-V" if tls else "-v"], capture_output=True, text=True).stderr
            v = out.splitlines()[0].strip().replace("nginx version: ", "") if out.strip() else ""
            m = re.search(r"running with (OpenSSL \S+)", out) or re.search(r"built with (OpenSSL \S+)", out)
            return f"{v} ({m.group(1)})" if tls and m else v
        if name == "haproxy":
            out = subprocess.run([exe, "-vv" if tls else "-v"], capture_output=True, text=True).stdout
            m = re.search(r"version (\S+)", out)
            v = f"HAProxy {m.group(1)}" if m else ""
            m = re.search(r"Running on OpenSSL version : (OpenSSL \S+)", out)
            return f"{v} ({m.group(1)})" if tls and m and v else v
        if name == "caddy":
            out = subprocess.run([exe, "version"], capture_output=True, text=True).stdout
            v = f"Caddy {out.split()[0]}" if out.split() else ""
            if tls and v:
                m = re.search(r"^go\s+(go\S+)", subprocess.run([exe, "build-info"], capture_output=True, text=True).stdout, re.M)
                v += f" ({m.group(1)})" if m else ""
            return v
        if name == "gatehouse":
            return subprocess.run([exe, "version"], capture_output=True, text=True).stdout.strip()
    except OSError:
        pass
    return ""


def build(idle, gatehouse=True, tls=False):
    """go build gatehouse (and idleconns, and mkcert and tlsload) from this checkout into bench/.bin/."""
    targets = [("bench/.bin/gatehouse", "./cmd/gatehouse")] if gatehouse else []
    if idle:
        targets.append(("bench/.bin/idleconns", "./bench/idleconns"))
    if tls:
        targets += [("bench/.bin/mkcert", "./bench/mkcert"), ("bench/.bin/tlsload", "./bench/tlsload")]
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


def other_note(runs, workloads):
    """A sentence on the CPU that other processes used during the runs, the most in any one run."""
    worst = max((r[wl]["other_pct"] for rs in runs.values() for r in rs for wl in workloads), default=0.0)
    return (f"Other processes used at most {worst:.0f}% of a CPU during any run"
            + (" (more than the benchmark tolerates: figures disturbed, measure again)." if worst > OTHER_PCT_WARN else "."))


def print_plain(table, proxies, workloads):
    anchors = [n for n in ANCHORS if n in table]
    tls = any(wl in TLS_WORKLOADS for wl in workloads)  # then also the proxy's CPU use, cpu%
    hdr = (f"{'workload':8} {'proxy':14} {'rps':>9} {'cpu_us/req':>10} {'p50_us':>8} {'p99_us':>8} "
           f"{'rss_MiB':>7} {'errors':>6} {'sock_err':>8}" + (f" {'cpu%':>5}" if tls else "")
           + "".join(f" {'vs ' + a:>10}" for a in anchors))
    print(hdr)
    for wl in workloads:
        for n in proxies:
            t = table[n][wl]
            print(f"{wl:8} {n:14} {t['rps']:9.0f} {t['cpu_us_req']:10.1f} {t['p50_us']:8.0f} {t['p99_us']:8.0f} "
                  f"{t['rss_mb']:7.1f} {t['errors']:6.0f} {t['sock_err']:8.0f}" + (f" {t['cpu_pct']:5.0f}" if tls else "")
                  + "".join(f" {ratio(t, table[a][wl]):>10}" for a in anchors))
    print("(cpu_us/req: CPU time of the proxy per request, lower is better; vs X: that figure divided by X's"
          + ("; cpu%: the proxy's CPU use, 100 = its one CPU saturated; tlshs: one full TLS handshake per request)"
             if tls else ")"))


# How the Markdown footnote describes each workload.
DESCRIBE = {
    "small": "small: GET of a 60-byte body",
    "big": "big: GET of 64 KiB",
    "post": "post: POST of 4 KiB",
    "close": "close: one request per connection",
    "tls": "tls: small over TLS 1.3 (keep-alive, so almost no handshakes)",
    "tlshs": "tlshs: one request per TLS connection, each a full TLS 1.3 handshake (ECDSA P-256 certificate, "
             "X25519), no session resumption, by bench/tlsload instead of wrk (req/s are handshakes/s)",
}


def print_markdown(table, proxies, workloads, a, versions, note=""):
    tls = any(wl in TLS_WORKLOADS for wl in workloads)  # then also the proxy's CPU use
    print("| workload | proxy | req/s | CPU µs/req | vs nginx | p50 µs | p99 µs | peak RSS MiB |" + (" proxy CPU % |" if tls else ""))
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |" + (" ---: |" if tls else ""))
    for wl in workloads:
        for n in proxies:
            t = table[n][wl]
            name = f"**{n}**" if n == "gatehouse" else n
            print(f"| {wl} | {name} | {t['rps']:,.0f} | {t['cpu_us_req']:.1f} | {ratio(t, table.get('nginx', {}).get(wl))} "
                  f"| {t['p50_us']:,.0f} | {t['p99_us']:,.0f} | {t['rss_mb']:.1f} |" + (f" {t['cpu_pct']:.0f} |" if tls else ""))
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
    if a.workloads != DEFAULT_WORKLOADS:
        cmd += f" --workloads {a.workloads}"
    if a.only:
        cmd += f" --only {a.only}"
    if a.redo:
        cmd += f" --redo {a.redo}"
    print(f"Medians of {a.rounds} alternating round{'s' if a.rounds != 1 else ''} of {a.secs} s per workload "
          f"(`wrk -t1 -c{a.conns}`), `{cmd}`"
          + (f" on {cpu}" if cpu else "") + ". "
          "Each proxy is pinned to one CPU; wrk and the nginx backend share the other. "
          "CPU µs/req is the user+system CPU time of the proxy's process tree per request, "
          "and *vs nginx* is that figure divided by nginx's (lower is better). "
          + "; ".join(DESCRIBE[wl] for wl in workloads) + "."
          + (" Proxy CPU % is the proxy's CPU use during the run (100 = its one CPU saturated)." if tls else "")
          + (f" Versions: {vs}." if vs else "") + (f" {note}" if note else ""))
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
    ap.add_argument("--workloads", default=DEFAULT_WORKLOADS,
                    help=f"comma-separated, of {', '.join(WORKLOADS)} (default {DEFAULT_WORKLOADS}; the TLS ones, "
                         f"{', '.join(TLS_WORKLOADS)}, only when named)")
    ap.add_argument("--proxy", action="append", default=[], help="NAME='COMMAND' (listen on :8080, forward to :9001)")
    ap.add_argument("--proxy-tls", action="append", default=[],
                    help="NAME='COMMAND' for the TLS workloads (TLS on :8443, forward to :9001); default: --proxy's")
    ap.add_argument("--only", default="", help="comma-separated proxies to measure, in this order")
    ap.add_argument("--json", default="", help="write all figures to this file")
    ap.add_argument("--markdown", action="store_true", help="print the table as Markdown, for README.md")
    ap.add_argument("--no-build", action="store_true", help="use bench/.bin/ as it is (bench/run has built it)")
    ap.add_argument("--redo", type=int, default=0, metavar="N",
                    help=f"on a shared machine: wait for a quiet second before each proxy's round, and measure a round "
                         f"again (up to N times) when other processes used more than {OTHER_PCT_WARN}%% of a CPU during it")
    ap.add_argument("--idle", type=int, default=0, metavar="N",
                    help="instead: hold N idle keep-alive connections and report the proxy's RSS (gatehouse by default)")
    ap.add_argument("--idle-wait", type=int, default=3, metavar="S", help="with --idle: seconds to leave them idle")
    a = ap.parse_args()
    proxies = dict(PROXIES)
    tls_cmds = dict(PROXIES_TLS)
    for p in a.proxy:
        if "=" not in p:
            ap.error(f"--proxy {p!r}: give NAME='COMMAND'")
        n, c = p.split("=", 1)
        proxies[n] = c
        tls_cmds.pop(n, None)  # a proxy given anew serves the TLS workloads with its own command too
    for p in a.proxy_tls:
        if "=" not in p:
            ap.error(f"--proxy-tls {p!r}: give NAME='COMMAND'")
        n, c = p.split("=", 1)
        if n not in proxies:
            ap.error(f"--proxy-tls {n}: no such proxy (give --proxy {n}='COMMAND' too)")
        tls_cmds[n] = c
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
    tls = not a.idle and any(wl in TLS_WORKLOADS for wl in workloads)
    if "gatehouse" in proxies or a.idle or tls:
        if not a.no_build:
            build(a.idle, "gatehouse" in proxies or a.idle, tls)
        exes = ([GATEHOUSE] if "gatehouse" in proxies or a.idle else []) + ([IDLECONNS] if a.idle else [])
        for exe in exes + ([MKCERT, TLSLOAD] if tls else []):
            if not os.access(exe, os.X_OK):
                raise SystemExit(f"{exe} is missing: run bench/run, or compare.py without --no-build")
    if tls:
        # The certificate every proxy's TLS listener uses (kept when it is there and valid).
        if subprocess.run([MKCERT, "-dir", TLS_DIR]).returncode != 0:
            raise SystemExit(f"{MKCERT} failed to write the certificates to {TLS_DIR}")
    # Keep this script (sampling /proc) off the proxy's CPU.
    os.sched_setaffinity(0, {0})
    if a.idle:
        idle(a, proxies)
        return
    versions = {n: version(n, c, tls) for n, c in proxies.items() if n in PROXIES}
    be = start_backend()
    runs = {n: [] for n in proxies}
    try:
        for rnd in range(a.rounds):
            for n, c in proxies.items():
                for attempt in range(a.redo + 1):
                    if a.redo:
                        wait_quiet(be.pid)
                    res = measure(n, c, workloads, a.conns, a.secs, tls_cmds.get(n), be.pid)
                    worst = max(res[wl]["other_pct"] for wl in workloads)
                    if worst <= OTHER_PCT_WARN or attempt == a.redo:
                        break
                    log(f"round {rnd + 1}/{a.rounds} {n}: disturbed (other processes used {worst:.0f}% of a CPU), "
                        f"measuring it again")
                runs[n].append(res)
                log(f"round {rnd + 1}/{a.rounds} {n} done")
    finally:
        stop(be)
    table = {}
    for n, rs in runs.items():
        table[n] = {}
        for wl in workloads:
            table[n][wl] = {k: median(r[wl][k] for r in rs)
                            for k in ("rps", "cpu_us_req", "cpu_pct", "other_pct", "p50_us", "p99_us", "rss_mb", "errors",
                                      "sock_err")}
    if a.markdown:
        print_markdown(table, proxies, workloads, a, versions, other_note(runs, workloads))
    else:
        print_plain(table, proxies, workloads)
        print(other_note(runs, workloads))
    if a.json:
        meta = dict(rounds=a.rounds, secs=a.secs, conns=a.conns, workloads=workloads, commands=proxies,
                    versions=versions, time=time.strftime("%Y-%m-%dT%H:%M:%S%z"))
        if tls:
            meta["tls_commands"] = {n: tls_cmds.get(n, c) for n, c in proxies.items()}
        with open(a.json, "w") as f:
            json.dump(dict(meta=meta, median=table, runs=runs), f, indent=1)


if __name__ == "__main__":
    main()
