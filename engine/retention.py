"""Log retention for a run left going for months: the logs folder's dated files older than `logs.keep_days`.

Only files the engine writes and dates by their session (audit-, engine-, trades-, report-YYYYMMDD...) are
candidates, so nothing else a user keeps in the folder is touched. The journals are the audit trail: keeping
them all is the default, and a shorter window is the user's explicit choice.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path

from loguru import logger

DATED = re.compile(r"^(audit|engine|trades|report)-(\d{8})(?=[-.])")


def prune(logs_dir: Path, today: date, keep_days: int | None) -> list[Path]:
    """Delete the dated files of sessions more than `keep_days` calendar days before `today`; what was deleted."""
    if keep_days is None or not logs_dir.is_dir():
        return []
    oldest = today - timedelta(days=keep_days)
    gone = []
    for path in sorted(logs_dir.iterdir()):
        m = DATED.match(path.name)
        if m is None or not path.is_file():
            continue
        try:
            day = date(int(m[2][:4]), int(m[2][4:6]), int(m[2][6:]))
        except ValueError:
            continue
        if day < oldest:
            path.unlink(missing_ok=True)
            gone.append(path)
    if gone:
        logger.info(f"logs.keep_days {keep_days}: deleted {len(gone)} file(s) of sessions before {oldest}")
    return gone
