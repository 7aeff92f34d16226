"""8 processes race to create the same artifacts in one empty store: each is created once."""

from __future__ import annotations

import collections
import os
import subprocess
import sys
from pathlib import Path

from cache import Store

REPO = Path(__file__).resolve().parents[2]

WORKER = r"""
import os, sys, time
sys.path.insert(0, sys.argv[4])
from test_cache_record import make_record
from cache import Store

root, log, go = sys.argv[1], sys.argv[2], sys.argv[3]
while not os.path.exists(go):  # start together
    time.sleep(0.005)
store = Store(root, layers=[])
for i in range(4):
    rec = make_record(i)

    def factory(rec=rec):
        with open(log, "a") as fh:  # O_APPEND: one line per call, never interleaved
            fh.write(rec.key + "\n")
        time.sleep(0.1)  # widen the race window
        return rec

    assert store.get_or_create(rec.key, factory) == rec
"""


def test_eight_processes_create_each_key_once(tmp_path):
    root, log, go = tmp_path / "store", tmp_path / "calls.log", tmp_path / "go"
    log.touch()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    args = [str(root), str(log), str(go), str(Path(__file__).parent)]
    procs = [
        subprocess.Popen([sys.executable, "-c", WORKER, *args], env=env, stderr=subprocess.PIPE)
        for _ in range(8)
    ]
    go.touch()
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err.decode()
    calls = collections.Counter(log.read_text().split())
    store = Store(root, layers=[])
    assert len(calls) == 4 and set(calls.values()) == {1}, calls
    assert sorted(calls) == store.keys()
    assert all(r.ok for r in store.verify())
    leftovers = [p.name for p in root.rglob("*.tmp")]
    assert leftovers == []
