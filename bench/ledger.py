"""Ledger section of `make bench`: LocalLedger transactions/s with one writer
and with 4 processes on one file, audit messages/s and verify speed, each
next to plain SQLite inserts/s (Python's sqlite3, WAL, one commit per row) on
the same disk in the same run — the ceiling of a signed, checked, logged
transaction. The issue names no peer ledger, so SQLite itself is the peer.
Runs alternate (ours, ceiling) `repeats` times; medians are reported with
every sample."""

import os
import shutil
import tempfile

PROCESSES = 4


def run(context):
    count = 500 if context.quick else 2000
    work = tempfile.mkdtemp(prefix="meshfl-ledger-bench-")
    ours, ceiling = [], []
    try:
        for attempt in range(context.repeats):
            ours.append(context.run_json(
                [f"{context.bin_dir}/meshfl-bench", "ledger", "--count", str(count), "--processes", str(PROCESSES),
                 "--dir", work], f"meshfl ledger #{attempt + 1}"))
            ceiling.append(context.run_json(
                ["/usr/bin/python3", "bench/sqlite_insert.py", "--dir", work, "--count", str(count),
                 "--processes", str(PROCESSES)], f"sqlite inserts #{attempt + 1}"))
    finally:
        shutil.rmtree(work, ignore_errors=True)

    med = context.median
    peer = f"sqlite {ceiling[0]['sqlite']} plain inserts (python sqlite3, WAL, one commit per row)"

    def entry(name, description, key, unit, peer_key=None):
        value = med([r[key] for r in ours])
        result = {
            "name": name,
            "description": f"{description}; {count} per run, median of {context.repeats} runs alternating with the peer",
            "unit": unit,
            "meshfl": value,
            "meshfl_runs": [r[key] for r in ours],
            "target": None,
        }
        if peer_key:
            peer_value = med([r[peer_key] for r in ceiling])
            result.update({"peer": peer, "peer_value": peer_value, "peer_runs": [r[peer_key] for r in ceiling],
                           "ratio": round(value / peer_value, 3) if peer_value else None})
        return result

    return [
        entry("ledger_transactions_1_writer", "LocalLedger signed 1-tinybar transfers, one writer, each its own "
              "BEGIN IMMEDIATE transaction with signature check and log append", "transactions_per_s_1_writer",
              "transactions/s", "inserts_per_s_1_writer"),
        entry(f"ledger_transactions_{PROCESSES}_processes", f"the same transfers from {PROCESSES} processes sharing "
              "one ledger file (no double spend; balance checked afterwards)", "transactions_per_s_processes",
              "transactions/s", "inserts_per_s_processes"),
        entry("ledger_audit_messages", "LocalLedger HCS-style topic messages (running hash v3), one writer",
              "audit_messages_per_s", "messages/s", "inserts_per_s_1_writer"),
        entry("ledger_verify_topic", "verifyTopic: recompute the SHA-384 running-hash chain of one topic",
              "verify_topic_messages_per_s", "messages/s"),
        entry("ledger_verify_full", "verify(): every topic chain, then replay of the whole signed log into memory "
              "and comparison of every state table", "verify_full_transactions_per_s", "transactions/s"),
    ]
