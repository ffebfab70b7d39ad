#!/usr/bin/env python3
"""
http_fuzz.py: random and mutated HTTP requests against the three running services.

    http_fuzz.py PAYMENT_PORT INVENTORY_PORT NOTIFICATION_PORT COUNT SEED

Each request starts from a valid one of a random route and is mutated: the method, the path (extra
segments, doubled slashes, NUL, very long ids, non-ASCII, bytes that are not UTF-8 raw or %-encoded, a
character cut at byte 64), the body (fields dropped or replaced by values of the wrong type, huge or tiny
numbers, raw bytes, invalid UTF-8 and NUL inside JSON strings, unbalanced or deeply nested JSON, 70 KB
strings, duplicate keys), header values that are not UTF-8 (Idempotency-Key, Authorization, the service
token), Content-Type, Content-Length (too small, negative, beyond 64 bits), chunked encoding, the
smuggling shapes (Content-Length with Transfer-Encoding, two Content-Lengths, "Transfer-Encoding :",
unknown codings), Expect: 100-continue, Idempotency-Key and the forwarding mark. One connection per request (Connection:
close), bounded by a 5 s timeout.

What must hold, for every request: an answer arrives (or, only when bytes follow the declared body, the
server closes the connection: libmicrohttpd reads them as a next request); its status is below 500 or one of 502/503/504 (a downstream failure); an answer that
comes from service code is JSON. Requests that libmicrohttpd rejects itself, before any service code runs
(400, 413 or 505 with its own HTML body), are counted apart. The same SEED gives the same requests.
Exit status 1 with each violation printed; 0 otherwise.
"""
import json
import random
import socket
import sys

PORTS = {"payment": int(sys.argv[1]), "inventory": int(sys.argv[2]), "notification": int(sys.argv[3])}
COUNT = int(sys.argv[4])
rng = random.Random(int(sys.argv[5]))

VALID = {
    "payment": [
        ("POST", "/payment/process", {"amount": 100, "currency": "USD", "product_id": "1", "quantity": 1}),
        ("POST", "/payment/chain", {"product_id": "1"}),
        ("POST", "/payment/refund", {"payment_id": "pay-0-1", "amount": 5}),
        ("POST", "/payment/validate", {"card_number": "4111111111111111"}),
        ("GET", "/payment/status/pay-0-1", None),
        ("GET", "/", None),
        ("GET", "/health", None),
    ],
    "inventory": [
        ("GET", "/check/1", None),
        ("POST", "/reserve", {"product_id": "2", "quantity": 1}),
        ("POST", "/release", {"reservation_id": "r1", "product_id": "2", "quantity": 1}),
        ("GET", "/list", None),
    ],
    "notification": [
        ("POST", "/send", {"message": "hi", "type": "info", "recipient": "x"}),
        ("GET", "/history", None),
        ("GET", "/status/ntf-0-1", None),
    ],
}
WEIRD = [None, True, False, 0, -1, 1e308, -1e308, 1.005, "1", "", "x" * 70000, [], {}, [1, 2], {"a": 1},
         "\u0000", "\u20ac", 12345678901234567890, 0.001, "usd", "1; DROP", "../../etc", 3.5, 2 ** 63]
RAW_BODIES = [b"", b"{", b"}", b"[]", b"null", b'{"a":}', b'{"product_id":"1","product_id":"2"}',
              b'{"x":"\xff\xfe"}', b"{" * 5000, b"[" * 100000, b'"' + b"a" * 70000 + b'"']


def mutated_body(body):
    body = dict(body or {})
    for _ in range(rng.randint(0, 3)):
        keys = list(body) or ["k"]
        op = rng.random()
        if op < 0.4:
            body[rng.choice(keys)] = rng.choice(WEIRD)
        elif op < 0.6 and body:
            del body[rng.choice(list(body))]
        else:
            body[rng.choice(["extra", "amount", "quantity", "product_id", "currency", "payment_id", "message"])] = \
                rng.choice(WEIRD)
    return json.dumps(body).encode()


def random_request():
    service = rng.choice(sorted(PORTS))
    method, path, body = rng.choice(VALID[service])
    if rng.random() < 0.15:
        method = rng.choice(["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "FOO"])
    if rng.random() < 0.2:
        path = rng.choice([path + "/extra", path + "?a=b&c", path.replace("/", "//"), "/%00", "/" + "a" * 5000,
                           path + "%2F..", "/payment/status/" + "x" * 300, "/check/\u00e9", "/status/", "/check/"])
    elif rng.random() < 0.15:
        # bytes that are not UTF-8, or a character cut where an error message stops quoting (64 bytes)
        path = rng.choice(["/check/", "/payment/status/", "/status/", "/nope/", "/payment/"]) + rng.choice(
            ["%ff", "%c3", "%ed%a0%80", "%c0%af", "a" * 63 + "%c3%a9", "%e2%82", "x%00y", "%f4%90%80%80",
             "\udcff", "%80%80"]) + rng.choice(["", "/", "?q=%ff"])
    kind = rng.random()
    if kind < 0.08 and body is not None:
        # a JSON body whose strings hold bytes that are not UTF-8, or NUL
        raw_bytes = rng.choice([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\x00", b"a" * 63 + b"\xc3"])
        key = rng.choice(sorted(body) + ["x"])
        payload = json.dumps(dict(body, **{key: "@@"})).encode().replace(b"@@", raw_bytes)
    elif kind < 0.5:
        payload = mutated_body(body)
    elif kind < 0.75:
        payload = rng.choice(RAW_BODIES + [bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 200)))])
    else:
        payload = json.dumps(body).encode() if body is not None else b""
    headers = ["Host: 127.0.0.1:%d" % PORTS[service]]
    content_type = rng.choice(["application/json", "application/json; charset=utf-8", "text/plain", "",
                               "application/JSON", None])
    if content_type is not None:
        headers.append("Content-Type: " + content_type)
    framing, broken = rng.random(), False
    if framing < 0.08 and payload:
        broken = True
        headers.append("Content-Length: %d" % rng.randint(0, len(payload) - 1))  # the rest reads as a next request
    elif framing < 0.16:
        headers.append("Transfer-Encoding: chunked")
        payload = b"".join(b"%x\r\n%s\r\n" % (len(payload[i:i + 7]), payload[i:i + 7])
                           for i in range(0, len(payload), 7)) + b"0\r\n\r\n"
    elif framing < 0.19:
        headers.append("Content-Length: -5")
        broken = True
    elif framing < 0.22:
        headers.append("Content-Length: 99999999999999999999")
        broken = True
    elif framing < 0.25:
        # smuggling shapes: refused with 400 and the connection closed
        headers.append(rng.choice(["Content-Length: %d\r\nTransfer-Encoding: chunked" % len(payload),
                                   "Content-Length: %d\r\nContent-Length: %d" % (len(payload), len(payload) + 1),
                                   "Transfer-Encoding : chunked\r\nContent-Length: %d" % len(payload),
                                   "Transfer-Encoding: gzip, chunked", "Transfer-Encoding: identity"]))
        broken = True
    else:
        headers.append("Content-Length: %d" % len(payload))
    if rng.random() < 0.1:
        headers.append("Idempotency-Key: " + rng.choice(["k1", "", "x" * 300, "bad key", "\udcff\udcfe", "k\udcc3"]))
    if rng.random() < 0.05:
        headers.append(rng.choice(["X-Junk: \udcff\udcfe", "Authorization: Bearer \udcff", "X-Service-Token: \udcc3",
                                   "Content-Type: application/json\udcff", "X-Nul: a\x00b"]))
    if rng.random() < 0.05:
        headers.append("Expect: 100-continue")
    if rng.random() < 0.05:
        headers.append("X-Forwarded-To-Owner: 1")
    head = "%s %s HTTP/1.1\r\n%s\r\nConnection: close\r\n\r\n" % (method, path, "\r\n".join(headers))
    # surrogate escapes stand for raw bytes: a head that is not UTF-8
    return service, head.encode("utf-8", "surrogateescape") + payload, broken


def exchange(port, raw):
    with socket.create_connection(("127.0.0.1", port), timeout=5.0) as s:
        # No half-close after the request: like nginx (499) and most servers, libmicrohttpd takes the
        # client's FIN as "gone", and an answer that was still being prepared (a route waiting for another
        # service) is then not sent. Connection: close makes the server close after its answer.
        try:
            s.sendall(raw)
        except OSError:
            pass  # the server answered and closed before reading everything (413, 400): read the answer
        data = b""
        while True:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                # A server that answers early (413) and closes with request bytes still unread makes the
                # kernel send a reset, which can overtake the answer: only acceptable for such requests.
                if not data and len(raw) > 65536:
                    return b"RESET"
                raise
            if not chunk:
                return data
            data += chunk


def main():
    tally, violations = {}, 0

    def violation(i, service, what, raw, data=b""):
        nonlocal violations
        violations += 1
        print("#%d %s: %s\n    request %r\n    answer  %r" % (i, service, what, raw[:200], data[:300]))

    for i in range(COUNT):
        service, raw, broken = random_request()
        try:
            data = exchange(PORTS[service], raw)
        except OSError as e:
            violation(i, service, "no answer (%r)" % e, raw)
            continue
        if data == b"RESET":
            tally["reset while sending an oversized body"] = tally.get("reset while sending an oversized body", 0) + 1
            continue
        while data.startswith(b"HTTP/1.1 100 "):  # Expect: 100-continue, then the answer
            data = data.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in data else b""
        if not data:
            # only for a request whose framing is broken (bytes beyond its Content-Length, which
            # libmicrohttpd reads as a next request and rejects by closing)
            if not broken:
                violation(i, service, "closed without an answer", raw)
            tally["closed without an answer"] = tally.get("closed without an answer", 0) + 1
            continue
        head, _, body = data.partition(b"\r\n\r\n")
        try:
            status = int(head.split(b"\r\n", 1)[0].split()[1])
        except (IndexError, ValueError):
            violation(i, service, "not an HTTP answer", raw, data)
            continue
        status_line = head.split(b"\r\n", 1)[0]
        # libmicrohttpd's own rejections: its HTML page, or (0.9.75, for a bad Content-Length) its header
        # block written twice before the page
        if status in (400, 413, 505) and (body.startswith(b"<html>") or body.startswith(status_line + b"\r\n")):
            tally["libmicrohttpd %d" % status] = tally.get("libmicrohttpd %d" % status, 0) + 1
            continue
        tally[status] = tally.get(status, 0) + 1
        if status >= 500 and status not in (502, 503, 504):
            violation(i, service, "status %d" % status, raw, data)
        elif body and not raw.startswith(b"HEAD "):
            try:
                json.loads(body)
            except ValueError:
                violation(i, service, "status %d with a body that is not JSON" % status, raw, data)
    print("http_fuzz: %d requests, answers %s, violations %d"
          % (COUNT, ", ".join("%s: %d" % (k, v) for k, v in sorted(tally.items(), key=lambda kv: str(kv[0]))),
             violations))
    return 1 if violations else 0


if __name__ == "__main__":
    sys.exit(main())
