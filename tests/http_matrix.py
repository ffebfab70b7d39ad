#!/usr/bin/env python3
"""
http_matrix.py: the bad-input matrix against the three running services, with their state compared before
and after.

    http_matrix.py PAYMENT_PORT INVENTORY_PORT NOTIFICATION_PORT

Every route of every service gets, one request each: paths holding bytes that are not UTF-8 (raw and
%-encoded), NUL, a two-byte character cut at byte 64, overlong and surrogate forms; bodies that are not JSON,
JSON of the wrong shape or types, JSON strings holding invalid UTF-8 or NUL; header values that are not UTF-8;
wrong methods; and the framing that request smuggling needs (Content-Length with Transfer-Encoding, two
Content-Lengths, whitespace before a header's colon, unknown transfer codings). None of them is a valid
request, so every answer must be a 4xx (an unknown transfer coding too), JSON when service code answered,
and the state must be exactly as it was: inventory's stock of every product (/list), payment's count of
payments (GET /), notification's total (/history). Prints the figures; exit status 1 on any violation.
"""
import json
import socket
import sys

PORTS = {"payment": int(sys.argv[1]), "inventory": int(sys.argv[2]), "notification": int(sys.argv[3])}

ROUTES = {
    "payment": [("POST", "/payment/process"), ("GET", "/payment/status/"), ("POST", "/payment/refund"),
                ("POST", "/payment/validate"), ("POST", "/payment/chain"), ("GET", "/"), ("GET", "/health")],
    "inventory": [("GET", "/check/"), ("POST", "/reserve"), ("POST", "/release"), ("GET", "/list")],
    "notification": [("POST", "/send"), ("GET", "/history"), ("GET", "/status/")],
}
BAD_SEGMENTS = ["%ff", "%fe%ff", "%c3", "%c0%af", "%ed%a0%80", "%f4%90%80%80", "%e2%82", "%80", "a%00b",
                "a" * 63 + "%c3%a9", "a" * 64 + "%c3%a9", "%25ff", "\udcff", "\udcc3\udca9x", "x" * 300]
# Not here: an empty body and `null`, which the seed reads as {} (`request.get_json() or {}`), so that
# /send, /payment/validate and /payment/chain accept them with their defaults.
BAD_BODIES = [b"{", b"[]", b"\xff\xfe", b'{"a":"\xff"}', b'{"product_id":"\xc3"}',
              b'{"payment_id":"\xed\xa0\x80"}', b'{"message":"a\\u0000b"}', b'{"card_number":"\xff"}',
              b'{"amount":"\xff","product_id":"1"}', b'{"product_id":"' + b"a" * 63 + b'\xc3"}',
              b'{"reservation_id":"\xff","product_id":"1"}', b'{"product_id":{"x":1}}', b'{"amount":1e999}',
              b'{"product_id":"1","product_id":"1"}', b'"' + b"\xff" * 10 + b'"']
# Bodies that are valid for some routes: /send and /payment/validate read only their own fields, each with a
# default (the seed's `data.get(name, default)`), so another field, of any type, is ignored as the seed did.
VALID_FOR = {b'{"product_id":{"x":1}}': ("/send", "/payment/validate")}
BAD_HEADERS = ["Idempotency-Key: \udcff", "Idempotency-Key: k\udcc3", "Content-Type: application/json\udcff",
               "Authorization: Bearer \udcff", "X-Service-Token: \udcff\udcfe", "X-Forwarded-To-Owner: \udcff"]
FRAMING = ["Content-Length: {n}\r\nTransfer-Encoding: chunked", "Transfer-Encoding: chunked\r\nContent-Length: {n}",
           "Content-Length: {n}\r\nContent-Length: {m}", "Transfer-Encoding : chunked\r\nContent-Length: {n}",
           "Content-Length : {n}", "Transfer-Encoding: gzip", "Transfer-Encoding: gzip, chunked",
           "Transfer-Encoding: identity\r\nContent-Length: {n}"]


def exchange(port, raw):
    with socket.create_connection(("127.0.0.1", port), timeout=5.0) as s:
        try:
            s.sendall(raw)
        except OSError:
            pass
        data = b""
        while True:
            try:
                chunk = s.recv(65536)
            except (ConnectionResetError, socket.timeout):
                break
            if not chunk:
                break
            data += chunk
    return data


def request(service, method, path, body=None, headers=(), framing=None):
    hdrs = ["Host: 127.0.0.1", "Connection: close"] + list(headers)
    if body is not None and not any(h.lower().startswith("content-type") for h in hdrs):
        hdrs.append("Content-Type: application/json")
    payload = body or b""
    if framing is not None:
        hdrs.append(framing.format(n=len(payload), m=len(payload) + 3))
    elif body is not None:
        hdrs.append("Content-Length: %d" % len(payload))
    head = "%s %s HTTP/1.1\r\n%s\r\n\r\n" % (method, path, "\r\n".join(hdrs))
    return exchange(PORTS[service], head.encode("utf-8", "surrogateescape") + payload)


def get_json(service, path):
    data = request(service, "GET", path)
    return json.loads(data.partition(b"\r\n\r\n")[2])


def state():
    stock = {p["product_id"]: p["stock_count"] for p in get_json("inventory", "/list")["products"]}
    return {"stock": stock, "payments": get_json("payment", "/")["payments"],
            "notifications": get_json("notification", "/history")["total_count"]}


def cases():
    for service, routes in sorted(ROUTES.items()):
        for method, path in routes:
            wild = path.endswith("/") and path != "/"
            for seg in BAD_SEGMENTS:
                yield service, method, (path if wild else path + "/") + seg, None, (), None, False
            if method == "POST":
                for body in BAD_BODIES:
                    if path not in VALID_FOR.get(body, ()):
                        yield service, method, path, body, (), None, False
                yield service, method, path, b"{}", ("Content-Type: text/plain",), None, False
                for fr in FRAMING:
                    yield service, method, path, b'{"x":1}', (), fr, True
            for h in BAD_HEADERS if method == "POST" or wild else ():  # other GET routes ignore headers
                body = b'{"product_id":"\xff"}' if method == "POST" else None
                yield service, method, path + ("x%ff" if wild else ""), body, (h,), None, False
            yield service, "DELETE", (path + "%ff") if wild else path, None, (), None, False
            yield service, "P\xffT", path, None, (), None, False


def main():
    before = state()
    tally, violations, count = {}, 0, 0
    for service, method, path, body, headers, framing, smuggling in cases():
        count += 1
        data = request(service, method, path, body, headers, framing)
        head, _, rbody = data.partition(b"\r\n\r\n")
        try:
            status = int(head.split(b"\r\n", 1)[0].split()[1])
        except (IndexError, ValueError):
            status = 0
        tally[status] = tally.get(status, 0) + 1
        ok = 400 <= status < 500
        if ok and rbody and not rbody.startswith(b"<html>") and not rbody.startswith(b"HTTP/"):
            try:
                json.loads(rbody)
            except ValueError:
                ok = False
        if smuggling and ok and b"connection: close" not in head.lower() and not rbody.startswith(b"<html>"):
            ok = False  # an ambiguous request must also close the connection
        if not ok:
            violations += 1
            print("violation: %s %r %r %r framing=%r -> %r" % (service, method, path, body, framing, data[:240]))
    after = state()
    if after != before:
        violations += 1
        print("violation: state changed\n  before %s\n  after  %s" % (before, after))
    print("http_matrix: %d bad inputs, answers %s, 5xx from input %d, state %s, violations %d"
          % (count, ", ".join("%s: %d" % kv for kv in sorted(tally.items())),
             sum(v for k, v in tally.items() if k >= 500), "unchanged" if after == before else "CHANGED",
             violations))
    return 1 if violations else 0


if __name__ == "__main__":
    sys.exit(main())
