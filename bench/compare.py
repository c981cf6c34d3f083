#!/usr/bin/env python3
"""Side-by-side reverse-proxy benchmark on one machine: gatehouse against nginx, HAProxy and Caddy.

One nginx backend (pinned to CPU 0) serves a small body on / and 64 KiB on /big.
Each proxy under test is pinned to CPU 1 and listens on 127.0.0.1:8080; wrk runs on CPU 0.
The workloads that use the extra command (tls, tlshs, h2, h2c; only when asked for with --workloads)
run against the proxy's other listeners, started with its "TLS command" (PROXIES_TLS, --proxy-tls):
tls, tlshs and h2 on 127.0.0.1:8443 with TLS (the certificate bench/mkcert writes to
/tmp/bench-tls/; HTTP/1.1, and HTTP/2 by ALPN for h2), h2c on 127.0.0.1:8081 (cleartext HTTP/2 with
prior knowledge). Their clients: tls is run by wrk, tlshs by bench/tlsload (a new connection and a
full handshake per request), h2 and h2c by h2load (nghttp2), 100 concurrent streams per connection.
Proxies are measured in alternating rounds so that machine drift hits all of them alike.

Figures per proxy and workload (medians over rounds):
  rps          requests per second seen by the client (wrk, tlsload or h2load)
  cpu_us_req   CPU time of the proxy's whole process tree per request (user+sys), the steadiest figure
  p50/p99_us   latency percentiles: wrk's and tlsload's; h2load prints none: with --h2-latency, they
               come from its per-request log (which costs the client CPU), else NaN, printed "-"
  rss_mb       peak resident memory of the proxy process tree during the run (MiB)
  errors       responses other than 2xx/3xx (h2load: other than 2xx); sock_err: wrk's socket errors
               (connect, read, write, timeout), h2load's streams that errored or timed out
CPU per request is also given as a ratio to nginx, HAProxy and Caddy (those that were measured).

Usage:
  compare.py [--rounds N] [--secs S] [--conns C] [--workloads small,big,post,close[,tls,tlshs,h2,h2c]]
             [--proxy NAME='COMMAND ...'] [--proxy-tls NAME='COMMAND ...']
             [--only nginx,haproxy,caddy,gatehouse,NAME] [--markdown] [--json FILE] [--no-build]
             [--redo N] [--h2-latency]
  compare.py --idle N [--only gatehouse,...]   idle keep-alive connections: the proxy's memory
The proxy command must listen on 127.0.0.1:8080 and forward to http://127.0.0.1:9001; for tls,
tlshs and h2, on 127.0.0.1:8443 with TLS (offering h2 by ALPN for h2), for h2c on 127.0.0.1:8081
(HTTP/2 with prior knowledge); --proxy-tls gives another command for those four workloads.
gatehouse is built from this checkout into bench/.bin/ (go build, from the repository root), and
bench/.bin/mkcert (the certificate, which the TLS listeners of nginx's, HAProxy's and Caddy's
configs load even for the plain workloads) and, for tlshs, bench/.bin/tlsload too.
Needs: go, nginx, haproxy, caddy, wrk, taskset, and h2load for h2, h2c; bench/run installs what is
missing.
"""
import argparse, http.client, json, math, os, re, resource, shutil, signal, socket, ssl, statistics, subprocess, sys
import threading, time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BIN = os.path.join(HERE, ".bin")
GATEHOUSE = os.path.join(BIN, "gatehouse")
IDLECONNS = os.path.join(BIN, "idleconns")
MKCERT = os.path.join(BIN, "mkcert")
TLSLOAD = os.path.join(BIN, "tlsload")
TLS_DIR = "/tmp/bench-tls"
H2LOAD_LOG = "/tmp/bench-h2load.log"  # with --h2-latency: h2load's per-request log of the last h2/h2c run
BACKEND_CONF = os.path.join(HERE, "backend-nginx.conf")
BIG_SIZE = 65536
ANCHORS = ("nginx", "haproxy", "caddy")
PROXIES = {
    "nginx": f"nginx -e /tmp/bench-proxy-nginx.err -c {HERE}/proxy-nginx.conf",
    "haproxy": f"haproxy -f {HERE}/proxy-haproxy.cfg",
    "caddy": f"caddy run --adapter caddyfile --config {HERE}/Caddyfile",
    "gatehouse": f"{GATEHOUSE} proxy --listen 127.0.0.1:8080 --to http://127.0.0.1:9001",
}
# The "TLS commands": the commands for the workloads that use the extra command (EXTRA_PORTS), where
# they differ from the ones above.
PROXIES_TLS = {
    "gatehouse": f"{GATEHOUSE} run -config {HERE}/gatehouse-tls.yaml",
}
PLAIN_PORT, TLS_PORT, H2C_PORT = 8080, 8443, 8081
# name: (path, wrk arguments). The ones in EXTRA_PORTS are on a port of their own, and those in
# CLIENTS are run by another client than wrk (which then takes no arguments).
WORKLOADS = {
    "small": ("/", []),
    "big": ("/big", []),
    "post": ("/", ["-s", f"{HERE}/post4k.lua"]),
    "close": ("/", ["-s", f"{HERE}/close.lua"]),
    "tls": ("/", []),
    "tlshs": ("/", []),
    "h2": ("/", []),
    "h2c": ("/", []),
}
# The workloads that use the extra command (PROXIES_TLS, --proxy-tls), each on its port; the others are
# on PLAIN_PORT. Those on TLS_PORT are over TLS.
EXTRA_PORTS = {"tls": TLS_PORT, "tlshs": TLS_PORT, "h2": TLS_PORT, "h2c": H2C_PORT}
CLIENTS = {"tlshs": "tlsload", "h2": "h2load", "h2c": "h2load"}  # the client of each, when not wrk
H2_STREAMS = 100  # h2load -m: concurrent streams per HTTP/2 connection
DEFAULT_WORKLOADS = "small,big,post,close"
CLK_TCK = os.sysconf("SC_CLK_TCK")
OTHER_PCT_WARN = 10  # warn when other processes used more than this % of one CPU during a run
PAGE = os.sysconf("SC_PAGE_SIZE")


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def port_of(wl):
    return EXTRA_PORTS.get(wl, PLAIN_PORT)


def url_of(wl):
    """The scheme, address and port the client of wl connects to."""
    port = port_of(wl)
    return f"{'https' if port == TLS_PORT else 'http'}://127.0.0.1:{port}"


def h2_conns(conns):
    """h2load's connections for --conns C: as few as carry C requests in flight at H2_STREAMS streams
    each (C/100 rounded up, at least 1: one connection, 100 streams, for the default 50). Not more:
    nginx and gatehouse keep at most 128 idle backend connections (upstream keepalive 128,
    max_idle_per_backend 128) and forward HTTP/2 over HTTP/1.1, one backend connection per request
    in flight, so with more requests in flight than that they open and close backend connections all
    the time (nginx: some 6,000 a second with 500 in flight, and half its req/s or less), and the run
    would measure that rather than their HTTP/2."""
    return max(1, math.ceil(conns / H2_STREAMS))


def client_cmd(wl, conns):
    """How the Markdown footnote names the client of wl and its settings."""
    client = CLIENTS.get(wl, "wrk")
    if client == "h2load":
        return f"h2load -t1 -c{h2_conns(conns)} -m{H2_STREAMS}"
    if client == "tlsload":
        return f"tlsload -c={conns}"
    return f"wrk -t1 -c{conns}"


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


def get(port, path, h2=False):
    """(status, body length) of one GET, or (error text, 0). On TLS_PORT over TLS, verifying the
    certificate against bench/mkcert's CA (and that it holds 127.0.0.1). With h2, over HTTP/2 by
    h2load (ALPN h2 on TLS_PORT, else prior knowledge), which gives the status's class only: 200
    stands for any 2xx."""
    if h2:
        url = f"{'https' if port == TLS_PORT else 'http'}://127.0.0.1:{port}"
        r = run_h2load(["-n1", "-c1", "-m1"], url + path, timeout=10)
        if r["codes"][0] == 1:
            return 200, r["data"]
        return r["problem"] or f"no 2xx response ({r['codes'][1]} 3xx, {r['codes'][2]} 4xx, {r['codes'][3]} 5xx)", 0
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


def run_h2load(args, url, timeout=None):
    """Runs h2load on CPU 0 with args against url (HTTP/2: over TLS offering only h2 by ALPN for an
    https url, so that a server without HTTP/2 fails rather than being measured over HTTP/1.1;
    cleartext with prior knowledge for an http one) and reads its summary: req/s, requests done,
    errored and timed out, the count of each status class (2xx, 3xx, 4xx, 5xx), body bytes, and what
    went wrong (problem) when no HTTP/2 was spoken."""
    cmd = ["taskset", "-c", "0", "h2load", *args, *(["--npn-list=h2"] if url.startswith("https:") else []), url]
    try:
        run = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        out, err = run.stdout, run.stderr
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        err = f"h2load did not finish in {timeout} s"
    except FileNotFoundError:
        raise SystemExit("h2load is not installed (Debian: nghttp2-client); bench/run installs it")
    fin = re.search(r"finished in [\d.]+\w*, ([\d.]+) req/s", out)
    req = re.search(r"requests: \d+ total, \d+ started, (\d+) done, \d+ succeeded, \d+ failed, (\d+) errored, "
                    r"(\d+) timeout", out)
    codes = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", out)
    data = re.search(r"traffic: .*\((\d+)\) data", out)
    proto = re.search(r"Application protocol: (\S+)", out)
    problem = ""
    if not proto or proto.group(1) not in ("h2", "h2c"):
        why = [ln.strip() for ln in (out + "\n" + err).splitlines()
               if re.search(r"protocol|connect|error|fail|did not finish", ln, re.I)
               and not ln.startswith(("requests:", "time for", "status codes:", "traffic:"))]
        problem = (f"h2load spoke no HTTP/2 to {url}" + (f" ({proto.group(1)})" if proto else "")
                   + (f": {'; '.join(why)}" if why else
                      ": no connection, or no TLS handshake (h2load offers only h2 by ALPN: a server without "
                      "HTTP/2 may refuse the handshake)" if url.startswith("https:") else ": no connection, or no answer"))
    return dict(rps=float(fin.group(1)) if fin else 0.0,
                done=int(req.group(1)) if req else 0, errored=int(req.group(2)) if req else 0,
                timeout=int(req.group(3)) if req else 0,
                codes=[int(x) for x in codes.groups()] if codes else [0, 0, 0, 0],
                data=int(data.group(1)) if data else 0, problem=problem)


def percentiles(path, qs):
    """The qs percentiles (nearest rank) of the times, in µs, in h2load's per-request log: tab-separated
    start time (µs since the epoch), status, and µs until the end of the response. NaN if none."""
    try:
        with open(path) as f:
            xs = sorted(int(ln.split("\t")[2]) for ln in f if ln.count("\t") >= 2)
    except (OSError, ValueError):
        xs = []
    return [float(xs[min(len(xs) - 1, max(0, math.ceil(q / 100 * len(xs)) - 1))]) if xs else float("nan") for q in qs]


def h2load(path, conns, secs, url, log_file=""):
    """Runs h2load for secs with h2_conns(conns) connections of H2_STREAMS streams each, on one thread,
    and returns its figures in wrk()'s terms. h2load prints no latency percentiles: with log_file they
    come from its per-request log, else are NaN. The log is not free: h2load writes each line with a
    write(2) of its own, some 1 µs of the client's CPU per request, 10% fewer req/s when that CPU is
    what limits them."""
    args = ["-t1", f"-c{h2_conns(conns)}", f"-m{H2_STREAMS}", "-D", str(secs)]
    if log_file:
        if os.path.exists(log_file):
            os.remove(log_file)
        args.append(f"--log-file={log_file}")
    r = run_h2load(args, url + path)
    if r["problem"]:
        log(f"WARNING: {r['problem']}")
    elif not r["done"]:
        log(f"WARNING: h2load completed no request on {url + path}")
    p50, p99 = percentiles(log_file, (50, 99)) if log_file else (float("nan"), float("nan"))
    return dict(reqs=r["done"] - r["errored"], rps=r["rps"], p50_us=p50, p99_us=p99,
                errors=sum(r["codes"][1:]), sock_err=r["errored"] + r["timeout"],
                socket_errors=f"errored {r['errored']}, timeout {r['timeout']}")


def load(wl, conns, secs, log_file=""):
    """Runs the client of workload wl for secs and returns its figures."""
    path, extra = WORKLOADS[wl]
    client = CLIENTS.get(wl, "wrk")
    if client == "h2load":
        return h2load(path, conns, secs, url_of(wl), log_file)
    return wrk(path, extra, conns, secs, url_of(wl), client)


def measure(name, cmd, workloads, conns, secs, tls_cmd=None, backend=0, h2_log=""):
    """Figures for each workload. The plain ones and those that use the extra command (EXTRA_PORTS)
    run against one start of cmd when tls_cmd (the extra command) is cmd (or None), else the latter
    against a start of tls_cmd of their own. backend is the backend's pid, for telling the CPU used
    by other processes on the machine (other_pct). h2_log: see h2load()."""
    plain = [wl for wl in workloads if wl not in EXTRA_PORTS]
    extra = [wl for wl in workloads if wl in EXTRA_PORTS]
    tls_cmd = tls_cmd or cmd
    res = {}
    if tls_cmd == cmd and plain and extra:
        res.update(measure_one(name, cmd, plain + extra, conns, secs, backend, h2_log))
    else:
        if plain:
            res.update(measure_one(name, cmd, plain, conns, secs, backend, h2_log))
        if extra:
            res.update(measure_one(name, tls_cmd, extra, conns, secs, backend, h2_log))
    return {wl: res[wl] for wl in workloads}


def measure_one(name, cmd, workloads, conns, secs, backend=0, h2_log=""):
    ports = sorted({port_of(wl) for wl in workloads})
    proc = start(name, cmd, 1, ports)
    try:
        # One GET of each path on each port, in each HTTP version the workloads use there.
        for port, h2, path in sorted({(port_of(wl), CLIENTS.get(wl) == "h2load", WORKLOADS[wl][0]) for wl in workloads}):
            st, n = get(port, path, h2)
            what = f"GET {path} on :{port}" + (" over HTTP/2" if h2 else "")
            if st != 200:
                log(f"WARNING: {name}: {what} answered {st}; see /tmp/bench-{name}.log")
            elif not n:
                log(f"WARNING: {name}: {what} answered an empty body, not the backend's")
        res = {}
        for wl in workloads:
            load(wl, conns, 1)  # warm-up
            pids = tree(proc.pid)
            t0, _ = usage(pids)
            m0, o0, w0 = machine_ticks(), own_ticks(backend), time.monotonic()
            peak = 0
            box = {}
            th = threading.Thread(target=lambda: box.update(load(wl, conns, secs, h2_log)))
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


def build(idle, gatehouse=True, cert=False, tlsload=False):
    """go build gatehouse (and idleconns, mkcert, tlsload) from this checkout into bench/.bin/."""
    targets = [("bench/.bin/gatehouse", "./cmd/gatehouse")] if gatehouse else []
    if idle:
        targets.append(("bench/.bin/idleconns", "./bench/idleconns"))
    if cert:
        targets.append(("bench/.bin/mkcert", "./bench/mkcert"))
    if tlsload:
        targets.append(("bench/.bin/tlsload", "./bench/tlsload"))
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


def num(x, spec):
    """x formatted with spec, or "-" when it is NaN (a figure the client does not give)."""
    return format(x, spec) if x == x else "-"


def print_plain(table, proxies, workloads, conns):
    anchors = [n for n in ANCHORS if n in table]
    extra = any(wl in EXTRA_PORTS for wl in workloads)  # then also the proxy's CPU use, cpu%
    hdr = (f"{'workload':8} {'proxy':14} {'rps':>9} {'cpu_us/req':>10} {'p50_us':>8} {'p99_us':>8} "
           f"{'rss_MiB':>7} {'errors':>6} {'sock_err':>8}" + (f" {'cpu%':>5}" if extra else "")
           + "".join(f" {'vs ' + a:>10}" for a in anchors))
    print(hdr)
    for wl in workloads:
        for n in proxies:
            t = table[n][wl]
            print(f"{wl:8} {n:14} {t['rps']:9.0f} {t['cpu_us_req']:10.1f} "
                  f"{num(t['p50_us'], '.0f'):>8} {num(t['p99_us'], '.0f'):>8} "
                  f"{t['rss_mb']:7.1f} {t['errors']:6.0f} {t['sock_err']:8.0f}" + (f" {t['cpu_pct']:5.0f}" if extra else "")
                  + "".join(f" {ratio(t, table[a][wl]):>10}" for a in anchors))
    notes = ["cpu_us/req: CPU time of the proxy per request, lower is better", "vs X: that figure divided by X's"]
    if extra:
        notes.append("cpu%: the proxy's CPU use, 100 = its one CPU saturated")
    if "tlshs" in workloads:
        notes.append("tlshs: one full TLS handshake per request")
    h2 = [wl for wl in workloads if CLIENTS.get(wl) == "h2load"]
    if h2:
        notes.append(f"{', '.join(h2)}: by {client_cmd(h2[0], conns)}, {H2_STREAMS} requests in flight per connection")
    print("(" + "; ".join(notes) + ")")


# How the Markdown footnote describes each workload.
DESCRIBE = {
    "small": "small: GET of a 60-byte body",
    "big": "big: GET of 64 KiB",
    "post": "post: POST of 4 KiB",
    "close": "close: one request per connection",
    "tls": "tls: small over TLS 1.3 (keep-alive, so almost no handshakes)",
    "tlshs": "tlshs: one request per TLS connection, each a full TLS 1.3 handshake (ECDSA P-256 certificate, "
             "X25519), no session resumption, by bench/tlsload instead of wrk (req/s are handshakes/s)",
    "h2": "h2: small over HTTP/2 and TLS 1.3 (ALPN h2), by `{h2load}` instead of wrk: {n} connection{s} of "
          "100 concurrent streams{lat}",
    "h2c": "h2c: small over cleartext HTTP/2 with prior knowledge (on :8081), by `{h2load}`: {n} connection{s} of "
           "100 concurrent streams{lat}",
}


def describe(wl, conns, h2_latency=False):
    """The footnote's sentence on workload wl."""
    n = h2_conns(conns)
    lat = " (p50 and p99 from h2load's per-request log, `--h2-latency`)" if h2_latency else " (h2load gives no percentiles)"
    return DESCRIBE[wl].format(h2load=client_cmd("h2", conns), n=n, s="s" if n != 1 else "", lat=lat)


def print_markdown(table, proxies, workloads, a, versions, note=""):
    extra = any(wl in EXTRA_PORTS for wl in workloads)  # then also the proxy's CPU use
    print("| workload | proxy | req/s | CPU µs/req | vs nginx | p50 µs | p99 µs | peak RSS MiB |"
          + (" proxy CPU % |" if extra else ""))
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |" + (" ---: |" if extra else ""))
    for wl in workloads:
        for n in proxies:
            t = table[n][wl]
            name = f"**{n}**" if n == "gatehouse" else n
            print(f"| {wl} | {name} | {t['rps']:,.0f} | {t['cpu_us_req']:.1f} | {ratio(t, table.get('nginx', {}).get(wl))} "
                  f"| {num(t['p50_us'], ',.0f')} | {num(t['p99_us'], ',.0f')} | {t['rss_mb']:.1f} |"
                  + (f" {t['cpu_pct']:.0f} |" if extra else ""))
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
    if a.h2_latency:
        cmd += " --h2-latency"
    clients = {}  # the client's command: the workloads it runs
    for wl in workloads:
        clients.setdefault(client_cmd(wl, a.conns), []).append(wl)
    if len(clients) == 1:
        by = f"`{next(iter(clients))}`"
    else:
        by = "; ".join(f"{', '.join(wls)}: `{c}`" for c, wls in clients.items())
    print(f"Medians of {a.rounds} alternating round{'s' if a.rounds != 1 else ''} of {a.secs} s per workload "
          f"({by}), `{cmd}`"
          + (f" on {cpu}" if cpu else "") + ". "
          "Each proxy is pinned to one CPU; the client and the nginx backend share the other. "
          "CPU µs/req is the user+system CPU time of the proxy's process tree per request, "
          "and *vs nginx* is that figure divided by nginx's (lower is better). "
          + "; ".join(describe(wl, a.conns, a.h2_latency) for wl in workloads) + "."
          + (" Proxy CPU % is the proxy's CPU use during the run (100 = its one CPU saturated)." if extra else "")
          + (f" Versions: {vs}." if vs else "") + (f" {note}" if note else ""))
    bad = [f"{n}/{wl}: {table[n][wl]['errors']:.0f} non-2xx, {table[n][wl]['sock_err']:.0f} "
           + ("streams errored or timed out" if CLIENTS.get(wl) == "h2load" else "socket errors")
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
    ap.add_argument("--conns", type=int, default=50,
                    help=f"connections of wrk and tlsload (default 50); h2load's are this / {H2_STREAMS}, rounded up")
    ap.add_argument("--workloads", default=DEFAULT_WORKLOADS,
                    help=f"comma-separated, of {', '.join(WORKLOADS)} (default {DEFAULT_WORKLOADS}; those that use the "
                         f"extra command, {', '.join(EXTRA_PORTS)}, only when named)")
    ap.add_argument("--proxy", action="append", default=[], help="NAME='COMMAND' (listen on :8080, forward to :9001)")
    ap.add_argument("--proxy-tls", action="append", default=[],
                    help="NAME='COMMAND' for the workloads that use the extra command: tls, tlshs, h2 (TLS on :8443, "
                         "h2 by ALPN), h2c (HTTP/2 with prior knowledge on :8081); forward to :9001; default: --proxy's")
    ap.add_argument("--only", default="", help="comma-separated proxies to measure, in this order")
    ap.add_argument("--json", default="", help="write all figures to this file")
    ap.add_argument("--markdown", action="store_true", help="print the table as Markdown, for README.md")
    ap.add_argument("--no-build", action="store_true", help="use bench/.bin/ as it is (bench/run has built it)")
    ap.add_argument("--redo", type=int, default=0, metavar="N",
                    help=f"on a shared machine: wait for a quiet second before each proxy's round, and measure a round "
                         f"again (up to N times) when other processes used more than {OTHER_PCT_WARN}%% of a CPU during it")
    ap.add_argument("--h2-latency", action="store_true",
                    help="h2, h2c: p50 and p99 from h2load's per-request log (else none); it costs the client some "
                         "1 µs of CPU per request, so up to 10%% fewer req/s when the client's CPU is the limit")
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
        tls_cmds.pop(n, None)  # a proxy given anew serves the extra workloads with its own command too
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
    extra = not a.idle and any(wl in EXTRA_PORTS for wl in workloads)
    tls = not a.idle and any(port_of(wl) == TLS_PORT for wl in workloads)
    tlsload = not a.idle and any(CLIENTS.get(wl) == "tlsload" for wl in workloads)
    # The certificate: for the TLS workloads, and for nginx, HAProxy and Caddy whatever the workloads,
    # since their configs hold the TLS listener too and they do not start without it.
    cert = tls or any(n in ANCHORS for n in proxies)
    if "gatehouse" in proxies or a.idle or cert or tlsload:
        if not a.no_build:
            build(a.idle, "gatehouse" in proxies or a.idle, cert, tlsload)
        exes = ([GATEHOUSE] if "gatehouse" in proxies or a.idle else []) + ([IDLECONNS] if a.idle else [])
        for exe in exes + ([MKCERT] if cert else []) + ([TLSLOAD] if tlsload else []):
            if not os.access(exe, os.X_OK):
                raise SystemExit(f"{exe} is missing: run bench/run, or compare.py without --no-build")
    h2 = [wl for wl in workloads if CLIENTS.get(wl) == "h2load"]
    if h2 and not a.idle and not shutil.which("h2load"):
        raise SystemExit(f"h2load is missing (for {', '.join(h2)}): run bench/run, or install nghttp2-client")
    if cert:
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
                    res = measure(n, c, workloads, a.conns, a.secs, tls_cmds.get(n), be.pid,
                                  H2LOAD_LOG if a.h2_latency else "")
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
        print_plain(table, proxies, workloads, a.conns)
        print(other_note(runs, workloads))
    if a.json:
        meta = dict(rounds=a.rounds, secs=a.secs, conns=a.conns, workloads=workloads, commands=proxies,
                    versions=versions, time=time.strftime("%Y-%m-%dT%H:%M:%S%z"))
        if extra:
            meta["tls_commands"] = {n: tls_cmds.get(n, c) for n, c in proxies.items()}
        if h2:
            meta["h2load"] = dict(conns=h2_conns(a.conns), streams=H2_STREAMS, latency=a.h2_latency)
        with open(a.json, "w") as f:
            json.dump(dict(meta=meta, median=table, runs=runs), f, indent=1)


if __name__ == "__main__":
    main()
