"""Runs lemon24/reader against the given feed URLs; executed by bench_vs_reader.py in reader's own
virtual environment (it imports nothing from this project). One step per process, so the benchmark
can time each poll as a whole process, start-up included:

    python reader_runner.py add '{"urls": [...], "db": "/tmp/x.sqlite"}'       # untimed set-up
    python reader_runner.py update '{"workers": 50, "db": "/tmp/x.sqlite"}'    # one poll; prints entries
"""

import json
import sys

from reader import make_reader


def main() -> None:
    step, args = sys.argv[1], json.loads(sys.argv[2])
    reader = make_reader(args["db"])
    if step == "add":
        for url in args["urls"]:
            reader.add_feed(url, exist_ok=True)
        return
    reader.update_feeds(workers=args["workers"], scheduled=False)
    print(json.dumps({"entries": reader.get_entry_counts().total}))


if __name__ == "__main__":
    main()
