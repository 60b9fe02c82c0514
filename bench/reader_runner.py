"""Runs lemon24/reader's update_feeds against the given feed URLs; executed by bench_vs_reader.py in
reader's own virtual environment (it imports nothing from this project).

    python reader_runner.py '{"urls": [...], "workers": 16, "db": "/tmp/x.sqlite"}'
"""

import json
import sys
import time

from reader import make_reader


def main() -> None:
    args = json.loads(sys.argv[1])
    reader = make_reader(args["db"])
    for url in args["urls"]:
        reader.add_feed(url, exist_ok=True)
    t0 = time.perf_counter()
    reader.update_feeds(workers=args["workers"], scheduled=False)
    t1 = time.perf_counter()
    reader.update_feeds(workers=args["workers"], scheduled=False)
    t2 = time.perf_counter()
    entries = reader.get_entry_counts().total
    print(json.dumps({"first_poll_s": round(t1 - t0, 3), "repoll_304_s": round(t2 - t1, 3), "entries": entries}))


if __name__ == "__main__":
    main()
