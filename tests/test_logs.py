"""Logs never show a traceback's local variables: an HTTP client's locals hold the API keys."""

from datetime import date

from loguru import logger

from engine.logs import close_day_files, open_day_files, setup_logging


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
    logger.remove()
