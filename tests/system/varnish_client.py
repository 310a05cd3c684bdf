#!/usr/bin/env python3
"""varnish_client.py - objects for the varnish test and the clients that check them.

  varnish_client.py make DIR
      writes the objects (64 KiB to 8 MiB) the backend serves into DIR.
  varnish_client.py load PORT SECONDS THREADS PURGE_MS
      THREADS keep-alive clients fetch the objects through varnish for
      SECONDS, each body checked by SHA-256 against the content make wrote;
      one more connection purges a random object every PURGE_MS ms, so
      objects are dropped and fetched again while others are being served.
      Exit 1 on any changed, short or failed reply.

The content of each object is a function of its size alone, so the clients
know what every body must be without asking anyone.
"""
import hashlib
import http.client
import os
import random
import sys
import threading
import time

SIZES = [65536, 200000, 1048576, 3000000, 8388608]


def content(n):
    out = bytearray()
    i = 0
    while len(out) < n:
        out += hashlib.sha256(b"%d-%d" % (n, i)).digest()
        i += 1
    return bytes(out[:n])


def make(d):
    for n in SIZES:
        with open(os.path.join(d, "f%d.bin" % n), "wb") as f:
            f.write(content(n))


class Totals:
    def __init__(self):
        self.lock = threading.Lock()
        self.replies = self.bytes = self.purges = self.hits = 0
        self.bad = []


def fetcher(port, deadline, want, t, seed):
    rnd = random.Random(seed)
    conn = None
    while time.time() < deadline:
        n = rnd.choice(SIZES)
        try:
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            conn.request("GET", "/f%d.bin" % n)
            r = conn.getresponse()
            body = r.read()
            hit = "HIT" in (r.getheader("X-Cache") or "")
            if r.status != 200 or hashlib.sha256(body).hexdigest() != want[n]:
                with t.lock:
                    t.bad.append("f%d.bin: status %d, %d bytes, sha256 %s" %
                                 (n, r.status, len(body), hashlib.sha256(body).hexdigest()[:16]))
                conn.close()
                conn = None
                continue
            if r.getheader("Connection", "").lower() == "close":
                conn.close()
                conn = None
            with t.lock:
                t.replies += 1
                t.bytes += len(body)
                t.hits += hit
        except Exception as e:  # a reset, a short body: a failure all the same
            with t.lock:
                t.bad.append("f%d.bin: %r" % (n, e))
            if conn is not None:
                conn.close()
            conn = None
    if conn is not None:
        conn.close()


def purger(port, deadline, every, t):
    rnd = random.Random(7)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    while time.time() < deadline:
        time.sleep(every)
        n = rnd.choice(SIZES)
        try:
            conn.request("PURGE", "/f%d.bin" % n)
            r = conn.getresponse()
            r.read()
            if r.status != 200:
                with t.lock:
                    t.bad.append("PURGE f%d.bin: status %d" % (n, r.status))
            with t.lock:
                t.purges += 1
        except Exception as e:
            with t.lock:
                t.bad.append("PURGE f%d.bin: %r" % (n, e))
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.close()


def load(port, seconds, threads, purge_ms):
    want = {n: hashlib.sha256(content(n)).hexdigest() for n in SIZES}
    t = Totals()
    deadline = time.time() + seconds
    ts = [threading.Thread(target=fetcher, args=(port, deadline, want, t, i))
          for i in range(threads)]
    if purge_ms > 0:
        ts.append(threading.Thread(target=purger, args=(port, deadline, purge_ms / 1000.0, t)))
    for th in ts:
        th.start()
    for th in ts:
        th.join()
    print("%d replies (%d hits), %d MiB, %d purges, %d bad" %
          (t.replies, t.hits, t.bytes >> 20, t.purges, len(t.bad)))
    for b in t.bad[:5]:
        print("bad: " + b)
    return 1 if t.bad or t.replies == 0 else 0


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "make":
        make(sys.argv[2])
        sys.exit(0)
    if cmd == "load":
        sys.exit(load(int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])))
    sys.exit(2)
