"""Serves the benchmark feeds from a process of their own (so the server's threads do not compete
with the client under test for the interpreter lock). Prints the feed URLs as one JSON line, then
serves until its standard input closes.

    python -m bench.serve_feeds --feeds 200 --latency 0.1 --items 20 --hosts 50
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from bench.bench_poll import feed_arguments, serve


def main() -> None:
    parser = feed_arguments(argparse.ArgumentParser())
    args = parser.parse_args()
    with serve(args.feeds, args.latency, args.items, args.hosts) as (urls, _servers):
        print(json.dumps(urls), flush=True)
        sys.stdin.read()  # until the benchmark closes our stdin
        os._exit(0)  # the servers' threads are daemons: shutting 200 servers down one by one takes minutes


if __name__ == "__main__":
    main()
