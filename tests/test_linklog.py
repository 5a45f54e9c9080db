"""inputs.bin, the firmware's inputs of a run (softland.boards.linklog): what is written reads
back the same, and a damaged file is one clear error."""

from __future__ import annotations

from pathlib import Path

import pytest

from softland.boards.linklog import RESET, SENT, LinkLog, parse_link_log, read_link_log
from softland.errors import UserError


def _log() -> LinkLog:
    log = LinkLog()
    log.sent(b"\xa5\x5a\x01frame")
    log.reply(b"\xa5\x5aanswer")
    log.reset()
    return log


def test_a_link_log_reads_back_record_for_record() -> None:
    assert parse_link_log(_log().to_bytes()).records == _log().records


def test_a_reset_is_a_record_with_no_bytes() -> None:
    assert parse_link_log(_log().to_bytes()).records[2] == (RESET, b"")


def test_a_file_that_is_not_a_link_log_is_refused() -> None:
    with pytest.raises(UserError, match="not a softland link log"):
        parse_link_log(b"t_s,tick\n")


def test_a_truncated_link_log_names_where_it_ends() -> None:
    data = _log().to_bytes()
    with pytest.raises(UserError, match="truncated at byte"):
        parse_link_log(data[:-3])


def test_a_record_of_unknown_kind_is_corrupt() -> None:
    data = bytearray(_log().to_bytes())
    data[5] = 0x7F  # the first record's kind
    with pytest.raises(UserError, match="corrupt record at byte 5"):
        parse_link_log(bytes(data))


def test_a_missing_inputs_file_says_which_file(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="inputs.bin not found"):
        read_link_log(tmp_path / "inputs.bin")


def test_sent_frames_are_kept_as_bytes() -> None:
    log = LinkLog()
    log.sent(bytearray(b"abc"))
    assert log.records == [(SENT, b"abc")]
