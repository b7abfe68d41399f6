#!/usr/bin/env python3
"""The ceiling for the ledger benchmark: plain SQLite inserts through Python's
sqlite3, on one file in WAL mode with SQLite's default synchronous setting,
one committed BEGIN IMMEDIATE transaction per 200-byte row — what LocalLedger
does per transaction, minus the signature checks and state updates.

    sqlite_insert.py --dir DIR --count N --processes P

Prints one JSON line: inserts/s with one writer, and with P processes sharing
the file (N rows in all, N/P each).
"""

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import time

ROW = bytes(range(200))


def connect(path):
    db = sqlite3.connect(path, timeout=30, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("CREATE TABLE IF NOT EXISTS log (seq INTEGER PRIMARY KEY, body BLOB NOT NULL)")
    return db


def insert(path, count):
    db = connect(path)
    for _ in range(count):
        db.execute("BEGIN IMMEDIATE")
        db.execute("INSERT INTO log (body) VALUES (?)", (ROW,))
        db.execute("COMMIT")
    db.close()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--dir", required=True)
    p.add_argument("--count", type=int, default=2000)
    p.add_argument("--processes", type=int, default=4)
    p.add_argument("--writer", help=argparse.SUPPRESS)  # internal: PATH for one writer process
    args = p.parse_args()
    if args.writer:
        insert(args.writer, args.count)
        return
    path = os.path.join(args.dir, f"sqlite-bench-{os.getpid()}.db")
    try:
        connect(path).close()
        start = time.perf_counter()
        insert(path, args.count)
        single = args.count / (time.perf_counter() - start)

        per = args.count // args.processes
        start = time.perf_counter()
        children = [subprocess.Popen([sys.executable, __file__, "--dir", args.dir, "--count", str(per), "--writer", path])
                    for _ in range(args.processes)]
        codes = [c.wait(timeout=600) for c in children]
        if any(codes):
            raise SystemExit(f"sqlite_insert: a writer failed: {codes}")
        multi = per * args.processes / (time.perf_counter() - start)
        rows = sqlite3.connect(path).execute("SELECT COUNT(*) FROM log").fetchone()[0]
        if rows != args.count + per * args.processes:
            raise SystemExit(f"sqlite_insert: {rows} rows, expected {args.count + per * args.processes}")
        print(json.dumps({"inserts_per_s_1_writer": round(single), "inserts_per_s_processes": round(multi),
                          "processes": args.processes, "sqlite": sqlite3.sqlite_version}))
    finally:
        for suffix in ("", "-wal", "-shm"):
            try:
                os.remove(path + suffix)
            except FileNotFoundError:
                pass


if __name__ == "__main__":
    main()
