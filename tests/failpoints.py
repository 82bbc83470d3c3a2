"""Fault injection for the kill tests: run a ``yolov12`` command with a pause planted at one exact point.

    python tests/failpoints.py checkpoint-write:3 READY -- workflow run train --spec ... --out ...
    python tests/failpoints.py mid-epoch:3 READY -- workflow run train --spec ... --out ...

At the point the process writes its pid to READY and waits there, so a test's kill lands exactly there every time:
``checkpoint-write:N`` halfway through writing the N-th ``last.pt`` (epoch N's checkpoint: half of its bytes are in
the temporary file, the rename has not happened); ``mid-epoch:N`` after the first batch of epoch N. Nothing of the
suite is replaced: the real job runs, with one pause added.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path


def pause(ready: str) -> None:
    Path(ready).write_text(str(os.getpid()))
    while True:
        time.sleep(60)


def plant(point: str, ready: str) -> None:
    name, _, number = point.partition(":")
    epoch = int(number)
    if name == "checkpoint-write":
        from yolov12.workflow import checkpoints

        real, seen = checkpoints._write, {"last.pt": 0}

        def write(f, data: bytes) -> None:
            target = Path(f.name).name.split(".tmp")[0]  # '.last.pt.<random>.tmp'
            if target.startswith(".last.pt."):
                seen["last.pt"] += 1
                if seen["last.pt"] == epoch:
                    f.write(data[: len(data) // 2])
                    f.flush()
                    pause(ready)
            real(f, data)

        checkpoints._write = write
    elif name == "mid-epoch":
        from yolov12.workflow import guard

        init = guard.SuiteTrainerMixin.__init__

        def patched(self, *args, **kwargs):
            init(self, *args, **kwargs)
            self.add_callback("on_train_batch_end", lambda t: pause(ready) if t.epoch + 1 == epoch else None)

        guard.SuiteTrainerMixin.__init__ = patched
    else:
        raise SystemExit(f"unknown failpoint {point!r}")


if __name__ == "__main__":
    point, ready, sep, *argv = sys.argv[1:]
    assert sep == "--", "usage: failpoints.py POINT READY -- yolov12 arguments"
    from yolov12.cli import main

    plant(point, ready)
    sys.exit(main(argv))
