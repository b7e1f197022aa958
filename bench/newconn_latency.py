#!/usr/bin/env python3
"""Latency of a new HTTPS connection to a server that already holds idle keep-alive connections.

    bench/newconn_latency.py --port P --path PATH --body FILE --cafile CA
                             [--host 127.0.0.1] [--idle 32] [--samples 30]

Opens --idle TLS connections, sends one POST on each (so they are established, served and then
idle in keep-alive), keeps them open, and then --samples times measures a fresh connection:
TCP connect + TLS handshake + POST + full response, with "Connection: close". A server that
serves one connection per thread and has too few threads makes the fresh connection wait until
an idle one times out; that is what this measures. At the end every idle connection is used once
more, to show the server kept them.

Prints: "median_ms=M p90_ms=P max_ms=X idle_alive=N/IDLE". Exit status 1 when a request fails.
"""
import argparse
import http.client
import socket
import ssl
import statistics
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--path", required=True)
    ap.add_argument("--body", required=True)
    ap.add_argument("--cafile", required=True)
    ap.add_argument("--idle", type=int, default=32)
    ap.add_argument("--samples", type=int, default=30)
    ap.add_argument("--timeout", type=float, default=10.0)
    args = ap.parse_args()

    with open(args.body, "rb") as f:
        body = f.read()
    ctx = ssl.create_default_context(cafile=args.cafile)
    headers = {"Content-Type": "application/json"}

    def post(conn, extra=None):
        h = dict(headers)
        if extra:
            h.update(extra)
        conn.request("POST", args.path, body=body, headers=h)
        resp = conn.getresponse()
        resp.read()
        if resp.status != 200:
            raise RuntimeError("HTTP %d" % resp.status)

    idle = []
    for _ in range(args.idle):
        c = http.client.HTTPSConnection(args.host, args.port, context=ctx, timeout=args.timeout)
        post(c)
        idle.append(c)

    samples = []
    for _ in range(args.samples):
        start = time.perf_counter()
        c = http.client.HTTPSConnection(args.host, args.port, context=ctx, timeout=args.timeout)
        try:
            post(c, {"Connection": "close"})
        except (OSError, RuntimeError, http.client.HTTPException) as e:
            print("newconn_latency: a new connection failed: %s" % e, file=sys.stderr)
            return 1
        finally:
            c.close()
        samples.append((time.perf_counter() - start) * 1000.0)

    alive = 0
    for c in idle:
        try:
            post(c)
            alive += 1
        except (OSError, RuntimeError, http.client.HTTPException, socket.timeout):
            pass
        c.close()

    samples.sort()
    p90 = samples[min(len(samples) - 1, int(round(0.9 * (len(samples) - 1))))]
    print("median_ms=%.3f p90_ms=%.3f max_ms=%.3f idle_alive=%d/%d"
          % (statistics.median(samples), p90, samples[-1], alive, args.idle))
    return 0


if __name__ == "__main__":
    sys.exit(main())
