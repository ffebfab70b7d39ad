#!/usr/bin/env python3
"""
reliability_checks.py: the hostile-client checks of tests/reliability.sh that need a client program, each a
subcommand against services already running on loopback (the script starts and restarts them). Each prints
one line of figures and exits 1 when what it checks does not hold.

  capacity-flood PAY INV N      N failing payments (a product inventory does not know, and an amount of
                                stock nobody has), N releases of reservation ids nobody holds; then 50
                                valid payments: all must be 201
  valid PAY N                   N valid payments: all must be 201 (after a restart, say)
  auth PAY INV TOKEN APIKEY     with SERVICE_TOKEN and API_KEYS_FILE set: /reserve and /release without the
                                token 401, with a wrong one 403, stock unchanged; payments 201; a refund
                                without an API key 401, with one 200; a refund retried with one
                                Idempotency-Key refunds once; ids carry 128 random bits
  sigterm PORT PID SECONDS      keep-alive load (4 clients honouring Connection: close, behind a "load
                                balancer" that stops sending once /ready answers 503, as kube-proxy does
                                when the endpoint goes), SIGTERM to PID after 1 s: 0 failed requests
"""
import http.client
import json
import os
import re
import signal
import sys
import threading
import time


def call(port, method, path, body=None, headers=None, conn=None):
    c = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    h = {"Content-Type": "application/json"} if body is not None else {}
    h.update(headers or {})
    c.request(method, path, body=json.dumps(body) if isinstance(body, dict) else body, headers=h)
    r = c.getresponse()
    data = r.read()
    if conn is None:
        c.close()
    try:
        doc = json.loads(data) if data else None
    except ValueError:
        doc = None
    return r.status, doc


def stock(inv, product="1", headers=None):
    return call(inv, "GET", "/check/" + product, headers=headers)[1]["stock_count"]


def valid_payments(pay, n, tag):
    ok = 0
    for i in range(n):
        st, _ = call(pay, "POST", "/payment/process", {"amount": 1, "product_id": "5"},
                     {"Idempotency-Key": "valid-%s-%d-%d" % (tag, os.getpid(), i)})
        ok += st == 201
    return ok


def capacity_flood(pay, inv, n):
    statuses = {}
    for i in range(n):
        body = {"amount": 1, "product_id": "nope"} if i % 2 else {"amount": 1, "product_id": "3", "quantity": 999999}
        st, _ = call(pay, "POST", "/payment/process", body, {"Idempotency-Key": "flood-%d-%d" % (os.getpid(), i)})
        statuses[st] = statuses.get(st, 0) + 1
    for i in range(n):
        st, _ = call(inv, "POST", "/release", {"reservation_id": "ghost-%d-%d" % (os.getpid(), i), "product_id": "4"})
        statuses["release %d" % st] = statuses.get("release %d" % st, 0) + 1
    ok = valid_payments(pay, 50, "after-flood")
    print("capacity flood: %d failing payments and %d releases of unknown ids (%s), then 50 valid payments: %d "
          "served" % (n, n, ", ".join("%s: %d" % kv for kv in sorted(statuses.items(), key=str)), ok))
    return 0 if ok == 50 else 1


def valid(pay, n):
    ok = valid_payments(pay, n, "valid")
    print("valid payments: %d of %d served" % (ok, n))
    return 0 if ok == n else 1


def auth(pay, inv, token, apikey):
    bad = []
    before = stock(inv)
    res = {"product_id": "1", "quantity": 1, "reservation_id": "hostile-%d" % os.getpid()}
    rel = {"product_id": "1", "reservation_id": "hostile-%d" % os.getpid()}
    for path, body in (("/reserve", res), ("/release", rel)):
        for hdrs, want in (({}, 401), ({"X-Service-Token": "x" * 32}, 403)):
            st, _ = call(inv, "POST", path, body, hdrs)
            if st != want:
                bad.append("%s with %s: %d, not %d" % (path, hdrs or "no token", st, want))
    # the forwarding mark is for replicas only
    st, _ = call(inv, "GET", "/list", headers={"X-Forwarded-To-Owner": "1"})
    if st != 401:
        bad.append("/list forwarded without the token: %d" % st)
    if stock(inv) != before:
        bad.append("stock changed by refused calls: %d -> %d" % (before, stock(inv)))
    ids = []
    for i in range(3):
        st, doc = call(pay, "POST", "/payment/process", {"amount": 10, "product_id": "1"})
        if st != 201:
            bad.append("payment with the token set: %d %s" % (st, doc))
            return report_auth(bad)
        ids.append(doc["payment_id"])
    if not all(re.fullmatch(r"pay-\d+-[0-9a-f]{32}", i) for i in ids) or len(set(ids)) != 3:
        bad.append("payment ids are not 128-bit random: %s" % ids)
    pid = ids[0]
    refund = {"payment_id": pid, "amount": 2}
    st, _ = call(pay, "POST", "/payment/refund", refund)
    if st != 401:
        bad.append("refund without an API key: %d" % st)
    st, _ = call(pay, "POST", "/payment/refund", refund, {"Authorization": "Bearer " + "y" * 32})
    if st != 403:
        bad.append("refund with a wrong API key: %d" % st)
    key = {"Authorization": "Bearer " + apikey, "Idempotency-Key": "refund-%d" % os.getpid()}
    refund_ids = set()
    for _ in range(4):
        st, doc = call(pay, "POST", "/payment/refund", refund, key)
        if st != 200:
            bad.append("refund with an API key: %d %s" % (st, doc))
        else:
            refund_ids.add(doc["refund_id"])
    st, doc = call(pay, "GET", "/payment/status/" + pid)
    refunded = doc and doc.get("refunded_amount")
    if len(refund_ids) != 1 or refunded != 2:
        bad.append("a refund retried 4 times with one Idempotency-Key: %d refund ids, %s refunded" % (len(refund_ids),
                                                                                                     refunded))
    st, _ = call(pay, "POST", "/payment/refund", {"payment_id": pid, "amount": 3}, key)
    if st != 422:
        bad.append("the same Idempotency-Key with another body: %d, not 422" % st)
    return report_auth(bad, refunded)


def report_auth(bad, refunded=None):
    for b in bad:
        print("  auth: " + b)
    print("auth: /reserve and /release without the token 401, with a wrong one 403, stock unchanged; payments 201 "
          "with 128-bit ids; refund 401/403/200; one Idempotency-Key 4 times: refunded %s once; violations %d"
          % (refunded, len(bad)))
    return 1 if bad else 0


def sigterm(port, pid, seconds):
    ready = threading.Event()
    ready.set()
    counts = {"ok": 0, "failed": 0, "closes": 0}
    failures = []
    lock = threading.Lock()
    saw = {"ready_503": False}

    def balancer():
        while ready.is_set():
            try:
                st, _ = call(port, "GET", "/ready")
                if st == 503:
                    saw["ready_503"] = True
                    ready.clear()
            except OSError:
                ready.clear()
            time.sleep(0.1)

    def client():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        while ready.is_set():
            try:
                conn.request("GET", "/check/1" if port else "/health")
                r = conn.getresponse()
                r.read()
                with lock:
                    if r.status == 200:
                        counts["ok"] += 1
                    else:
                        counts["failed"] += 1
                        failures.append(r.status)
                    if r.will_close:
                        counts["closes"] += 1
                if r.will_close:  # honour Connection: close: the next request opens a new connection
                    conn.close()
            except (OSError, http.client.HTTPException) as e:
                with lock:
                    counts["failed"] += 1
                    failures.append(repr(e))
                conn.close()
        conn.close()

    threads = [threading.Thread(target=balancer)] + [threading.Thread(target=client) for _ in range(4)]
    for t in threads:
        t.start()
    time.sleep(1.0)
    t0 = time.monotonic()
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + seconds
    while ready.is_set() and time.monotonic() < deadline:
        time.sleep(0.05)
    ready.clear()
    for t in threads:
        t.join()
    print("sigterm under keep-alive load: %d requests answered, %d failed %s, %d answers with Connection: close, "
          "readiness 503 seen: %s (%.2f s after SIGTERM)"
          % (counts["ok"], counts["failed"], failures[:5], counts["closes"], saw["ready_503"], time.monotonic() - t0))
    return 0 if counts["failed"] == 0 and saw["ready_503"] and counts["ok"] > 0 else 1


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "capacity-flood":
        return capacity_flood(int(args[0]), int(args[1]), int(args[2]))
    if cmd == "valid":
        return valid(int(args[0]), int(args[1]))
    if cmd == "auth":
        return auth(int(args[0]), int(args[1]), args[2], args[3])
    if cmd == "sigterm":
        return sigterm(int(args[0]), int(args[1]), float(args[2]))
    print("unknown subcommand " + cmd)
    return 2


if __name__ == "__main__":
    sys.exit(main())
