#!/usr/bin/env python3
"""redis_client.py PORT CLIENTS ROUNDS: concurrent clients SET and GET
values from 16 KiB to several MiB and check every byte (SHA-256 of what
came back against what was sent). Prints one line; exit 1 on any mismatch
or protocol error."""
import hashlib
import socket
import sys
import threading

port, clients, rounds = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
SIZES = [16 * 1024, 64 * 1024 + 17, 300_001, 1 << 20, 3 * (1 << 20) + 5]
errors = []
checked = [0]
lock = threading.Lock()


def value(cid, i, n):
    seed = hashlib.sha256(f"{cid}:{i}".encode()).digest()
    return (seed * (n // len(seed) + 1))[:n]


def command(sock, *args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else a.encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    sock.sendall(b"".join(out))


def client(cid):
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=60)
        f = s.makefile("rb")
        for i in range(rounds):
            n = SIZES[(cid + i) % len(SIZES)]
            v = value(cid, i, n)
            command(s, "SET", f"zc:{cid}:{i}", v)
            line = f.readline()
            if line != b"+OK\r\n":
                raise RuntimeError(f"SET answered {line[:60]!r}")
            command(s, "GET", f"zc:{cid}:{i}")
            hdr = f.readline()
            if not hdr.startswith(b"$"):
                raise RuntimeError(f"GET answered {hdr[:60]!r}")
            got = f.read(int(hdr[1:-2]) + 2)[:-2]
            if hashlib.sha256(got).digest() != hashlib.sha256(v).digest():
                raise RuntimeError(f"value zc:{cid}:{i} ({n} bytes) came back changed")
            with lock:
                checked[0] += 1
        s.close()
    except Exception as e:  # noqa: BLE001 - report whatever went wrong
        with lock:
            errors.append(f"client {cid}: {e}")


threads = [threading.Thread(target=client, args=(c,)) for c in range(clients)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(f"redis_client: {checked[0]} values checked by SHA-256, {len(errors)} errors")
for e in errors[:5]:
    print("  ", e)
sys.exit(1 if errors or checked[0] != clients * rounds else 0)
