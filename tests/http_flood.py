#!/usr/bin/env python3
"""
http_flood.py: a slowloris flood against one service, with /health probes during and after it.

    http_flood.py PORT CONNECTIONS SECONDS [PROBE_LIMIT_MS]

Opens CONNECTIONS connections to 127.0.0.1:PORT (loopback only), each sending the start of a request head
("GET / HTTP/1.1", Host) and then one more header line every second, never the blank line that ends it;
a connection the server closes is opened again at the next second's round, as slowloris does (it recreates
its dead sockets each time it sends its keep-alive headers). Meanwhile a prober opens a
fresh connection every 100 ms and asks GET /health (1 s timeout). After SECONDS the attacker closes every
socket and the prober goes on for 3 s more.

Prints one line of figures (probes during the flood: answered, slowest, over the limit; after it: time to the
first answer, slowest; connections the server closed and the attacker reopened) and exits 1 when a probe
during the flood took over PROBE_LIMIT_MS (default 100) or failed, or the first probe after it took over 1 s.
Bounded: SECONDS + 4 s of work, every socket closed at the end. The process's descriptor limit is raised
to its hard limit to hold the connections.
"""
import resource
import selectors
import socket
import sys
import threading
import time

PORT, CONNS, SECONDS = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
LIMIT_MS = float(sys.argv[4]) if len(sys.argv) > 4 else 100.0

soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
if soft < CONNS + 64:
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, CONNS + 256), hard))


def probe():
    t0 = time.monotonic()
    try:
        with socket.create_connection(("127.0.0.1", PORT), timeout=1.0) as s:
            s.sendall(b"GET /health HTTP/1.1\r\nHost: probe\r\nConnection: close\r\n\r\n")
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        ok = data.startswith(b"HTTP/1.1 200")
    except OSError:
        ok = False
    return ok, (time.monotonic() - t0) * 1000.0


class Attacker:
    def __init__(self):
        self.sel = selectors.DefaultSelector()
        self.socks = set()
        self.reopened = 0
        self.failed_opens = 0

    def open_one(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        try:
            s.connect_ex(("127.0.0.1", PORT))
        except OSError:
            s.close()
            self.failed_opens += 1
            return
        self.sel.register(s, selectors.EVENT_WRITE, "connecting")
        self.socks.add(s)

    def drop(self, s):
        try:
            self.sel.unregister(s)
        except (KeyError, ValueError):
            pass
        self.socks.discard(s)
        s.close()

    def run(self, until):
        for _ in range(CONNS):
            self.open_one()
        next_trickle = time.monotonic() + 1.0
        while time.monotonic() < until:
            for key, _ in self.sel.select(timeout=0.05):
                s = key.fileobj
                if key.data == "connecting":
                    try:
                        s.send(b"GET / HTTP/1.1\r\nHost: slow\r\n")
                        self.sel.modify(s, selectors.EVENT_READ, "open")
                    except OSError:
                        self.drop(s)
                        self.reopened += 1
                else:  # readable: the server answered or closed; a slowloris comes back
                    try:
                        gone = not s.recv(4096)
                    except OSError:
                        gone = True
                    if gone:
                        self.drop(s)
                        self.reopened += 1
            if time.monotonic() >= next_trickle:
                next_trickle += 1.0
                for _ in range(CONNS - len(self.socks)):
                    self.open_one()
                for s in list(self.socks):
                    try:
                        s.send(b"X-Slow: 1\r\n")
                    except OSError:
                        pass
        for s in list(self.socks):
            self.drop(s)


def main():
    attacker = Attacker()
    start = time.monotonic()
    until = start + SECONDS
    t = threading.Thread(target=attacker.run, args=(until,))
    t.start()
    time.sleep(min(1.0, SECONDS / 3))  # let the flood build up
    during = []
    while time.monotonic() < until - 0.2:
        during.append(probe())
        time.sleep(0.1)
    t.join()
    ended = time.monotonic()
    after, first_ok_s = [], None
    while time.monotonic() < ended + 3.0:
        ok, ms = probe()
        after.append((ok, ms))
        if ok and first_ok_s is None:
            first_ok_s = time.monotonic() - ended
        time.sleep(0.1)
    bad_during = [p for p in during if not p[0] or p[1] > LIMIT_MS]
    slowest_during = max((p[1] for p in during), default=0.0)
    slowest_after = max((p[1] for p in after if p[0]), default=0.0)
    print("http_flood: %d connections for %.0f s: %d probes during, %d over %.0f ms or failed, slowest %.1f ms; "
          "after: first answer %.3f s after the end, slowest %.1f ms, %d of %d answered; the server closed %d "
          "attacking connections (reopened)"
          % (CONNS, SECONDS, len(during), len(bad_during), LIMIT_MS, slowest_during,
             first_ok_s if first_ok_s is not None else -1, slowest_after, sum(1 for p in after if p[0]), len(after),
             attacker.reopened))
    failed = bad_during or not during or first_ok_s is None or first_ok_s > 1.0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
