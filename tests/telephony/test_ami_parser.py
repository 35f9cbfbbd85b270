"""The AMI framing: banner alone, CRLF, blank-line terminated messages, garbage skipped."""

from __future__ import annotations

import pytest

from telephony.ami import AmiParser, encode


def test_the_banner_comes_alone_before_any_framed_message() -> None:
    parser = AmiParser()
    assert parser.feed(b"Asterisk Call Manager/9.0.0\r\n") == []
    assert parser.banner == "Asterisk Call Manager/9.0.0"
    assert parser.feed(b"Response: Success\r\nActionID: 1\r\n\r\n") == [
        {"Response": "Success", "ActionID": "1"}
    ]


def test_messages_split_across_reads_at_any_byte_are_reassembled() -> None:
    stream = (
        b"Asterisk Call Manager/9.0.0\r\n"
        b"Event: Newchannel\r\nChannel: PJSIP/trunk-00000001\r\nUniqueid: 1.1\r\n\r\n"
        b"Event: Hangup\r\nUniqueid: 1.1\r\nCause-txt: Normal Clearing\r\n\r\n"
    )
    for size in (1, 2, 3, 7, 64):
        parser = AmiParser()
        messages = []
        for i in range(0, len(stream), size):
            messages += parser.feed(stream[i : i + size])
        assert [m["Event"] for m in messages] == ["Newchannel", "Hangup"]
        assert messages[1]["Cause-txt"] == "Normal Clearing"


def test_values_keep_colons_and_empty_values_are_kept() -> None:
    parser = AmiParser(banner="x")
    [message] = parser.feed(b"Event: X\r\nAccountCode:\r\nData: a: b: c\r\n\r\n")
    assert message == {"Event": "X", "AccountCode": "", "Data": "a: b: c"}


def test_garbage_lines_are_skipped_and_counted_never_fatal(caplog) -> None:
    parser = AmiParser(banner="x")
    messages = parser.feed(
        b"this is not AMI at all\r\n\xff\xfe\x00garbage\r\n"
        b"Event: Hangup\r\nnonsense line\r\nUniqueid: 1.1\r\n\r\n"
    )
    assert messages == [{"Event": "Hangup", "Uniqueid": "1.1"}]
    assert parser.garbage == 3
    assert "skipped" in caplog.text


def test_an_endless_line_is_dropped_not_buffered_forever() -> None:
    parser = AmiParser(banner="x")
    assert parser.feed(b"A" * (70 * 1024)) == []
    assert parser.feed(b"B" * 100 + b"\r\nEvent: Ok\r\n\r\n") == [{"Event": "Ok"}]
    assert parser.garbage == 1


def test_lf_only_framing_is_tolerated() -> None:
    parser = AmiParser(banner="x")
    assert parser.feed(b"Event: A\nUniqueid: 1\n\n") == [{"Event": "A", "Uniqueid": "1"}]


def test_encode_frames_with_crlf_and_refuses_injected_lines() -> None:
    assert encode({"Action": "Ping", "ActionID": "7"}) == b"Action: Ping\r\nActionID: 7\r\n\r\n"
    with pytest.raises(ValueError):
        encode({"Action": "Originate", "Exten": "123\r\nAction: Command"})
