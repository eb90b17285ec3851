"""Logs never show a traceback's local variables (an HTTP client's locals hold the API keys); day files follow
the day."""

from datetime import date

from loguru import logger

from engine.logs import close_day_files, open_day_files, setup_logging, silence


def test_a_logged_traceback_does_not_show_local_variables(tmp_path, capsys):
    setup_logging(1)
    open_day_files(tmp_path, date(2025, 7, 1), fresh=True)

    def request_with(headers):
        raise RuntimeError("502 Bad Gateway")

    secret = "".join(["SKLEAK", "CHECK987"])  # a value only a frame's locals would show, as keys are
    try:
        request_with({"APCA-API-SECRET-KEY": secret})
    except RuntimeError as exc:
        logger.opt(exception=exc).error("unexpected error")
    close_day_files()
    logged = (tmp_path / "engine-20250701.log").read_text() + capsys.readouterr().err
    assert "502 Bad Gateway" in logged and "Traceback" in logged
    assert "SKLEAKCHECK987" not in logged
    silence()


def test_an_inner_run_keeps_its_lines_out_of_the_console_and_the_day_files(tmp_path, capsys):
    from engine.logs import inner_run

    setup_logging(1)
    open_day_files(tmp_path, date(2025, 7, 1), fresh=True)
    logger.info("the session's own line")
    with inner_run():
        logger.info("a re-simulated transition")
        logger.bind(trade=True).info("a re-simulated fill")
    logger.bind(trade=True).info("the session's fill")
    close_day_files()
    console = capsys.readouterr().err
    files = (tmp_path / "engine-20250701.log").read_text() + (tmp_path / "trades-20250701.log").read_text()
    for text in (console, files):
        assert "the session's own line" in text or "the session's fill" in text
        assert "re-simulated" not in text
    assert "the session's fill" in (tmp_path / "trades-20250701.log").read_text()
    silence()


def test_each_day_writes_its_own_files_through_sinks_added_once(tmp_path, mocker):
    """A sweep runs many days in one process: a new day must only open files, not add sinks (each add costs
    loguru a scan of the install paths), and the second day's lines must still reach the second day's file."""
    setup_logging(-2)
    add = mocker.spy(type(logger), "add")
    for day in (date(2025, 7, 1), date(2025, 7, 2)):
        open_day_files(tmp_path, day, fresh=True)
        logger.info(f"line of {day}")
        logger.bind(trade=True).info(f"fill of {day}")
        close_day_files()
    assert add.call_count == 2
    assert (tmp_path / "engine-20250702.log").read_text().count("line of") == 1
    assert "fill of 2025-07-02" in (tmp_path / "trades-20250702.log").read_text()
    assert "line of 2025-07-02" not in (tmp_path / "engine-20250701.log").read_text()
    silence()
    open_day_files(tmp_path, date(2025, 7, 3), fresh=True)  # after every sink went, the day's are added again
    logger.info("line of 2025-07-03")
    close_day_files()
    assert add.call_count == 4
    assert "line of 2025-07-03" in (tmp_path / "engine-20250703.log").read_text()
    silence()


def test_a_paper_sessions_log_line_is_on_disk_when_it_is_logged(tmp_path):
    """A paper session may die any moment: each finished line must already be in its file. A simulated world's
    files are written in blocks and complete once closed."""
    setup_logging(-2)
    open_day_files(tmp_path / "paper", date(2025, 7, 1), fresh=False)
    logger.info("paper line")
    assert "paper line" in (tmp_path / "paper" / "engine-20250701.log").read_text()
    close_day_files()
    open_day_files(tmp_path / "sim", date(2025, 7, 1), fresh=True)
    logger.info("simulated line")
    close_day_files()
    assert "simulated line" in (tmp_path / "sim" / "engine-20250701.log").read_text()
    silence()


def test_the_console_follows_stderr_when_it_is_swapped_and_the_old_one_closed(monkeypatch):
    """Regression: the console sink held the stderr of set-up; a stream client's thread that logged after pytest had
    swapped and closed it made loguru print "Logging error ... I/O operation on closed file" and lose the line."""
    import io
    import sys

    first, second = io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, "stderr", first)
    setup_logging(0)
    logger.info("while set up")
    monkeypatch.setattr(sys, "stderr", second)
    first.close()
    logger.warning("a stream client retrying")
    silence()
    assert "a stream client retrying" in second.getvalue()
    assert "Logging error" not in second.getvalue()
