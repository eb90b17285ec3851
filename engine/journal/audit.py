"""The audit journal: append-only JSON lines in one SHA-256 hash chain, flushed per record.

Our own writer rather than a log sink, because a trader must be able to prove afterwards what the
engine saw and did: each record carries the hash of the one before it, so an edited, deleted or
inserted line breaks the chain, and a crash leaves at worst one torn last line.

The hash covers the line's own bytes (everything but its closing `,"hash":"…"}` member), so anyone can
check a journal with sha256 and string slicing, without having to reproduce our JSON formatting. The
writer is orjson: the journal holds every port call of the day, and the standard library's float
formatting alone made recording cost half of a simulated day's run time.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from engine.errors import ZdteError

GENESIS = "0" * 64
ABORT_EXIT_CODE = 130


_HASH_TAIL = len(',"hash":"') + 64 + len('"}')


def dumps(value: Any) -> bytes:
    """A journal's JSON: compact UTF-8; aware datetimes as their isoformat(); NaN and infinities as null.

    A dataclass is refused rather than written as a plain object, which replay could not turn back into it.
    """
    return orjson.dumps(value, option=orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_SERIALIZE_NUMPY)


def json_form(value: Any) -> Any:
    """`value` as it reads back from a journal."""
    return orjson.loads(dumps(value))


def line_hash(line: bytes) -> str | None:
    """The hash a journal line should carry: SHA-256 of the line without its last member, `,"hash":"…"`."""
    if len(line) <= _HASH_TAIL or not line.endswith(b'"}'):
        return None
    return hashlib.sha256(line[:-_HASH_TAIL] + b"}").hexdigest()


def journal_path(logs_dir: Path, day) -> Path:
    return Path(logs_dir) / f"audit-{day:%Y%m%d}.jsonl"


class Journal:
    """Writes one session's journal; reopening an existing file continues its chain after the last good line.

    A `durable` journal (a paper session's) flushes every record to the operating system as it is written, so a
    killed process loses nothing, and fsyncs each transition and order record, so a machine crash or a power cut
    loses nothing either. A simulated session's journal (`durable=False`) groups its writes: it is flushed when
    the runner reads it (the day's report), when the run ends or fails, and fsynced when it closes; a process
    killed outright (SIGKILL) or a machine crash during a simulated run can lose the records since the last
    flush, and the run is simply redone (a simulated rerun starts the day's journal afresh).
    """

    def __init__(self, path: Path, wall: Callable[[], datetime] | None = None, durable: bool = True) -> None:
        self.path = Path(path)
        self.durable = durable
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._wall = wall
        self.seq = 0
        self.last_hash = GENESIS
        self.recovered_torn_tail: str | None = None
        self.resumed = False
        self._busy = False
        self._abort: tuple[datetime, str] | None = None
        if self.path.exists():
            self._resume()
        self._fh = open(self.path, "ab")  # noqa: SIM115 - held open for the session

    def _resume(self) -> None:
        """Continue after the last complete line; a torn tail (a crash mid-write) is cut off into FILE.torn.

        A journal that does not verify is not continued: appending would bury the damage under a valid-looking
        tail. The engine refuses to start and says which line is wrong.
        """
        records, problems = read_journal(self.path)
        broken = [p for p in problems if "torn last line" not in p.what]
        if broken:
            raise ZdteError(
                f"{self.path}: {broken[0]}; the journal does not verify, so it cannot be continued: check it with "
                f"`python run.py journal verify {self.path}` and move it aside"
            )
        data = self.path.read_bytes()
        if data and not data.endswith(b"\n"):
            cut = data.rfind(b"\n") + 1
            self.recovered_torn_tail = data[cut:].decode("utf-8", errors="replace")
            torn = self.path.with_suffix(self.path.suffix + ".torn")
            with open(torn, "ab") as fh:
                fh.write(data[cut:] + b"\n")
            with open(self.path, "r+b") as fh:
                fh.truncate(cut)
            data = data[:cut]
        if records:
            self.resumed = True
            self.seq = int(records[-1]["seq"])
            self.last_hash = str(records[-1]["hash"])

    def append(self, kind: str, ts: datetime, *, sync: bool = True, **fields: Any) -> dict[str, Any]:
        """Write one record. `sync` fsyncs it (transitions, orders) in a durable journal; others are flushed only."""
        reserved = {"seq", "ts", "kind", "prev_hash", "hash", "wall_ts"} & fields.keys()
        if reserved:
            raise ValueError(f"audit fields {sorted(reserved)} are reserved")
        self._busy = True
        self.seq += 1
        record: dict[str, Any] = {"seq": self.seq, "ts": ts.isoformat(), "kind": kind, **fields}
        if self._wall is not None:
            record["wall_ts"] = self._wall().isoformat()
        record["prev_hash"] = self.last_hash
        body = dumps(record)
        record["hash"] = hashlib.sha256(body).hexdigest()
        self._fh.write(b'%s,"hash":"%s"}\n' % (body[:-1], record["hash"].encode()))
        if self.durable:
            self._fh.flush()
            if sync:
                os.fsync(self._fh.fileno())
        self.last_hash = record["hash"]
        self._busy = False
        if self._abort is not None:
            self._write_abort_and_exit(*self._abort)
        return record

    def abort(self, ts: datetime, reason: str) -> None:
        """From a signal handler: one last record, then the process ends (after the record being written)."""
        if self._busy:
            self._abort = (ts, reason)
        else:
            self._write_abort_and_exit(ts, reason)

    def _write_abort_and_exit(self, ts: datetime, reason: str) -> None:
        self._abort = None
        self.append("abort", ts, reason=reason)
        self.close()
        os._exit(ABORT_EXIT_CODE)

    def flush(self) -> None:
        """What a simulated journal has gathered, handed to the operating system (before anyone reads the file)."""
        if not self._fh.closed:
            self._fh.flush()

    def close(self) -> None:
        if not self._fh.closed:
            self._fh.flush()
            os.fsync(self._fh.fileno())
            self._fh.close()


@dataclass(frozen=True)
class JournalProblem:
    line: int
    what: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.what}"


def read_journal(path: Path, hashes: bool = True) -> tuple[list[dict[str, Any]], list[JournalProblem]]:
    """Every record in order, with the problems found: broken chain, seq gap, bad JSON, torn last line.

    `hashes=False` leaves each line's own hash unchecked (the chain's links still are): for the runner reading back
    the journal it has just written, where hashing every line again was a twentieth of a simulated day."""
    records: list[dict[str, Any]] = []
    problems: list[JournalProblem] = []
    data = Path(path).read_bytes()
    torn_tail = bool(data) and not data.endswith(b"\n")
    lines = data.split(b"\n")
    if not torn_tail:
        lines = lines[:-1]
    prev_hash: str | None = GENESIS
    expected_seq: int | None = 1
    for n, raw in enumerate(lines, start=1):
        last = n == len(lines)
        try:
            rec = orjson.loads(raw)
            if not isinstance(rec, dict):
                raise ValueError("not a JSON object")
        except ValueError as exc:
            if last and torn_tail:
                what = "torn last line (the writer stopped mid-record); earlier lines intact"
                problems.append(JournalProblem(n, what))
            else:
                problems.append(JournalProblem(n, f"not a valid JSON record ({exc})"))
            prev_hash, expected_seq = None, None
            continue
        seq = rec.get("seq")
        if expected_seq is not None and seq != expected_seq:
            what = f"seq {seq} where {expected_seq} was expected (a line was deleted or inserted)"
            problems.append(JournalProblem(n, what))
        if prev_hash is not None and rec.get("prev_hash") != prev_hash:
            problems.append(JournalProblem(n, "prev_hash does not match the previous record (chain broken)"))
        if hashes and line_hash(raw) != rec.get("hash"):
            problems.append(JournalProblem(n, "hash does not match the record's content (the line was modified)"))
        records.append(rec)
        prev_hash = rec.get("hash")
        expected_seq = seq + 1 if isinstance(seq, int) else None
    return records, problems
