"""The private parts of Twisted and h2 that the wire layer relies on, checked on real objects.

Each use has a comment at its site saying why no public API serves.  These tests
drive the installed library the way daphne does and check that the attribute or
method is there *and* behaves as daphne assumes, so that a release that renames
or changes one fails here, loudly and by name, instead of slowing the server
down or breaking HTTP/2 silently:

* Twisted ``tcp.Connection``'s write buffer, ``_tempDataBuffer``, ``dataBuffer``
  and ``offset`` (``daphne/_wire/http1_output.py``,
  ``SocketOutput._socket_writable_directly``): daphne writes to the socket itself
  only while Twisted has nothing queued;
* h2 ``H2Connection._receive_headers_frame`` (overridden in
  ``daphne/_wire/h2_connection.py``) raising ``TooManyStreamsError`` before it
  decodes the header block, and what the override uses to refuse the stream:
  ``h2.connection._decode_headers``, ``H2Connection._closed_streams`` and
  ``h2.stream.StreamClosedBy``;
* h2 ``H2Connection._receive_goaway_frame`` (overridden there too) and the
  connection state it checks;
* h2 ``FrameBuffer._headers_buffer`` (``daphne/_wire/h2_lifetime.py``,
  ``_track_header_block``): the frames of an unfinished header block;
* the bytes of the GOAWAY h2 queues after a protocol error, and the error's
  ``__cause__`` (``ServerConnection.error_data``), which daphne rewrites;
* what ``ServerConnection.send_headers``/``send_data`` drive directly (h2's
  ``_data_to_send``, the connection and stream state machines' inputs, the
  streams' windows, ``trailers_sent`` and ``request_method``): checked byte for
  byte and state for state against h2's own methods by
  ``tests/unit/test_h2_send_paths.py``; and what ``ServerConnection._new_request``
  drives for a new request stream (``_begin_new_stream``, the stream inputs,
  ``_initialize_content_length``), compared event for event with h2's HEADERS
  handler by ``tests/unit/test_h2_receive_path.py``;
* what h2 raises, and when, for a malformed request's body framing
  (``InvalidBodyLengthError`` from ``_receive_data_frame``; a plain ``ProtocolError``
  once a new stream is open), and the lengths h2 keeps per stream
  (``_expected_content_length``, ``_actual_content_length``), which
  ``ServerConnection`` turns into stream errors;
* hpack's static table, Huffman code and exceptions, which
  ``daphne._wire.h2_hpack`` reuses: checked against hpack's own encoder and
  decoder by ``tests/unit/test_h2_hpack.py``.

The upper bounds on Twisted and h2 in ``setup.cfg`` are raised only once these pass
on the new release (Twisted's other privates: ``tests/unit/test_twisted_privates.py``).
"""

from __future__ import annotations

import inspect
import socket
import subprocess
import sys
from collections.abc import Iterator
from importlib.metadata import version

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions
import h2.frame_buffer
import h2.settings
import h2.stream
import hpack
import hpack.exceptions
import hyperframe.exceptions
import hyperframe.frame
import pytest
from twisted.internet import tcp
from twisted.internet.protocol import Protocol

from daphne._config import ServerConfig
from daphne._wire.h2_connection import ServerConnection, goaway, new_connection
from daphne._wire.http1_output import SocketOutput, plain_tcp

TWISTED = f"Twisted {version('twisted')}"
H2 = f"h2 {version('h2')}"
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def missing(library: str, owner: str, attribute: str, where: str) -> str:
    return (
        f"{library}: {owner} has no {attribute!r} any more; daphne relies on it in {where}. "
        "Find the new way, fix that code, then raise the bound in setup.cfg."
    )


# -- Twisted: the write buffer of tcp.Connection -------------------------------------------


class _FDReactor:
    """Just enough of ``IReactorFDSet`` for a ``tcp.Connection`` that is never run."""

    def __init__(self) -> None:
        self.writers: set[object] = set()

    def addWriter(self, writer: object) -> None:
        self.writers.add(writer)

    def removeWriter(self, writer: object) -> None:
        self.writers.discard(writer)

    def addReader(self, reader: object) -> None:
        pass

    def removeReader(self, reader: object) -> None:
        pass


@pytest.fixture
def connection() -> Iterator[tuple[tcp.Connection, socket.socket]]:
    """A Twisted TCP connection over one end of a socket pair, and the other end."""
    ours, peer = socket.socketpair()
    made = tcp.Connection(ours, Protocol(), _FDReactor())  # type: ignore[arg-type]  # a fake
    made.connected = True  # as tcp.Server is once accepted
    yield made, peer
    ours.close()
    peer.close()


def test_tcp_connection_write_buffer(connection: tuple[tcp.Connection, socket.socket]) -> None:
    """Empty buffer <=> no ``_tempDataBuffer`` and ``offset == len(dataBuffer)``; a write lands
    in ``_tempDataBuffer`` first; ``doWrite`` moves it out and sends it."""
    conn, peer = connection
    where = "daphne/_wire/http1_output.py (SocketOutput._socket_writable_directly)"
    for name in ("_tempDataBuffer", "dataBuffer", "offset", "disconnecting"):
        assert hasattr(conn, name), missing(TWISTED, "tcp.Connection", name, where)
    assert plain_tcp(conn) is conn
    output = SocketOutput()
    output._init_output()
    output._use_socket(conn)
    assert output._socket is conn.getHandle() is conn.socket
    assert output._socket_writable_directly(), f"{TWISTED}: a new connection's buffer is not empty"
    conn.write(b"queued")
    assert conn._tempDataBuffer == [b"queued"], (
        f"{TWISTED}: tcp.Connection.write no longer queues in _tempDataBuffer ({where})"
    )
    assert not output._socket_writable_directly(), (
        f"{TWISTED}: a queued write no longer shows in _tempDataBuffer/dataBuffer/offset; "
        f"daphne would send past it, out of order ({where})"
    )
    conn.doWrite()
    assert peer.recv(100) == b"queued"
    assert output._socket_writable_directly(), (
        f"{TWISTED}: after doWrite sent everything, _tempDataBuffer/dataBuffer/offset do not "
        f"say the buffer is empty; daphne would never write directly again ({where})"
    )


def test_tcp_connection_partly_sent_buffer(
    connection: tuple[tcp.Connection, socket.socket],
) -> None:
    """What ``doWrite`` could not send stays in ``dataBuffer`` past ``offset``."""
    conn, _ = connection
    output = SocketOutput()
    output._init_output()
    output._use_socket(conn)
    conn.write(b"x" * (8 * 1024 * 1024))  # more than a socket pair's buffers take
    conn.doWrite()
    assert not conn._tempDataBuffer
    assert conn.offset < len(conn.dataBuffer), (
        f"{TWISTED}: unsent bytes are no longer dataBuffer[offset:] "
        "(daphne/_wire/http1_output.py, SocketOutput._socket_writable_directly)"
    )
    assert not output._socket_writable_directly()


# -- h2: refusing a stream over the concurrency limit -----------------------------------------


def _client() -> h2.connection.H2Connection:
    client = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    client.initiate_connection()
    return client


def _request(client: h2.connection.H2Connection, stream_id: int, marker: bytes) -> bytes:
    """A request whose ``x-marker`` field goes into the HPACK dynamic table."""
    fields = [
        (b":method", b"GET"),
        (b":path", b"/"),
        (b":scheme", b"http"),
        (b":authority", b"x"),
        (b"x-marker", marker),
    ]
    client.send_headers(stream_id, fields)
    return client.data_to_send()


def _limited(cls: type[h2.connection.H2Connection]) -> h2.connection.H2Connection:
    """A server connection (of ``cls``) allowing one concurrent stream, past its preface."""
    server = cls(h2.config.H2Configuration(client_side=False, header_encoding=None))
    server.local_settings = h2.settings.Settings(
        client=False, initial_values={h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: 1}
    )
    server.initiate_connection()
    server.data_to_send()
    return server


def _signature(function: object) -> list[str]:
    return list(inspect.signature(function).parameters)  # type: ignore[arg-type]


def test_receive_headers_frame_raises_before_decoding() -> None:
    """h2 refuses a stream over the limit with TooManyStreamsError *before* decoding its
    header block: ServerConnection then decodes it once itself."""
    where = "daphne/_wire/h2_connection.py (ServerConnection._receive_headers_frame)"
    method = getattr(h2.connection.H2Connection, "_receive_headers_frame", None)
    assert method is not None, missing(H2, "H2Connection", "_receive_headers_frame", where)
    assert _signature(method) == ["self", "frame"], (
        f"{H2}: H2Connection._receive_headers_frame{inspect.signature(method)} changed ({where})"
    )
    client = _client()
    server = _limited(h2.connection.H2Connection)
    server.receive_data(client.data_to_send() + _request(client, 1, b"one"))
    table = server.decoder.header_table.dynamic_entries
    entries = len(table)
    with pytest.raises(h2.exceptions.TooManyStreamsError):
        server.receive_data(_request(client, 3, b"three"))
    assert len(table) == entries, (
        f"{H2}: H2Connection._receive_headers_frame now decodes the header block before "
        f"refusing the stream; ServerConnection would decode it twice ({where})"
    )


def test_refused_stream_relies_on_closed_streams_and_decode_headers() -> None:
    """``_decode_headers(decoder, block)``, ``_closed_streams`` and ``StreamClosedBy``: the
    refused stream's block is decoded (later blocks still decode), and DATA on it gets
    RST_STREAM(STREAM_CLOSED)."""
    where = "daphne/_wire/h2_connection.py (ServerConnection._receive_headers_frame)"
    decode = getattr(h2.connection, "_decode_headers", None)
    assert decode is not None, missing(H2, "h2.connection", "_decode_headers", where)
    assert _signature(decode) == ["decoder", "encoded_header_block"], (
        f"{H2}: h2.connection._decode_headers{inspect.signature(decode)} changed ({where})"
    )
    assert hasattr(h2.stream, "StreamClosedBy") and hasattr(
        h2.stream.StreamClosedBy, "SEND_RST_STREAM"
    ), missing(H2, "h2.stream", "StreamClosedBy.SEND_RST_STREAM", where)
    client = _client()
    server = _limited(ServerConnection)
    assert isinstance(getattr(server, "_closed_streams", None), dict), missing(
        H2, "H2Connection", "_closed_streams", where
    )
    server.receive_data(client.data_to_send() + _request(client, 1, b"one"))
    server.data_to_send()
    server.receive_data(_request(client, 3, b"three"))
    refused = client.receive_data(server.data_to_send())
    assert [(type(e), e.error_code) for e in refused] == [
        (h2.events.StreamReset, h2.errors.ErrorCodes.REFUSED_STREAM)
    ]
    data = hyperframe.frame.DataFrame(3, data=b"late")
    server.receive_data(data.serialize())
    resets = [
        f for f in _frames(server.data_to_send()) if isinstance(f, hyperframe.frame.RstStreamFrame)
    ]
    assert [(f.stream_id, f.error_code) for f in resets] == [
        (3, h2.errors.ErrorCodes.STREAM_CLOSED)
    ], (
        f"{H2}: a stream recorded in _closed_streams as SEND_RST_STREAM no longer gets "
        f"RST_STREAM(STREAM_CLOSED) for late frames ({where})"
    )
    client.end_stream(1)
    server.receive_data(client.data_to_send())
    server.send_headers(1, [(b":status", b"200")], end_stream=True)
    events = server.receive_data(_request(client, 5, b"three"))  # indexed from the table
    received = [e for e in events if isinstance(e, h2.events.RequestReceived)]
    assert received and (b"x-marker", b"three") in received[0].headers, (
        f"{H2}: after _decode_headers of a refused stream the HPACK state is out of step ({where})"
    )


def _frames(data: bytes) -> list[hyperframe.frame.Frame]:
    buffer = h2.frame_buffer.FrameBuffer(server=False)
    buffer.max_frame_size = 2**24 - 1
    buffer.add_data(data)
    return list(buffer)


# -- h2: a request's body framing, as stream errors ---------------------------------------------


def test_body_framing_errors_h2_raises_and_the_lengths_it_keeps() -> None:
    """ServerConnection (daphne/_wire/h2_connection.py) turns h2's connection errors for a
    malformed request into stream errors, telling them apart by what h2 raises and when:
    ``InvalidBodyLengthError`` from ``_receive_data_frame``; a plain ``ProtocolError``
    from ``_receive_headers_frame`` once the new stream is open (a bad content-length, a
    dependency on itself); and the lengths in ``_expected_content_length`` /
    ``_actual_content_length``."""
    where = "daphne/_wire/h2_connection.py (ServerConnection._receive_headers_frame)"
    for owner, name, parameters in (
        (h2.connection.H2Connection, "_receive_data_frame", ["self", "frame"]),
        (h2.stream.H2Stream, "_initialize_content_length", ["self", "headers"]),
    ):
        method = getattr(owner, name, None)
        assert method is not None, missing(H2, owner.__name__, name, where)
        assert _signature(method) == parameters, (
            f"{H2}: {owner.__name__}.{name}{inspect.signature(method)} changed ({where})"
        )
    post = [(":method", "POST"), (":path", "/"), (":scheme", "http"), (":authority", "x")]
    # A length is kept, counted, and exceeding it raises InvalidBodyLengthError.
    client = _client()
    server = _limited(h2.connection.H2Connection)
    client.send_headers(1, [*post, ("content-length", "3")])
    server.receive_data(client.data_to_send())
    stream = server.streams[1]
    assert stream.state_machine.state is h2.stream.StreamState.OPEN
    assert (stream._expected_content_length, stream._actual_content_length) == (3, 0), (
        f"{H2}: H2Stream no longer keeps _expected_content_length/_actual_content_length ({where})"
    )
    client.send_data(1, b"ab")
    server.receive_data(client.data_to_send())
    assert stream._actual_content_length == 2
    client.send_data(1, b"cd")
    with pytest.raises(h2.exceptions.InvalidBodyLengthError):
        server.receive_data(client.data_to_send())
    # A bad length, or a dependency on itself: a plain ProtocolError, the stream open.
    for extra, itself in (([("content-length", "x")], False), ([], True)):
        client = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=True, validate_outbound_headers=False)
        )
        client.initiate_connection()
        server = _limited(h2.connection.H2Connection)
        server.receive_data(client.data_to_send())
        # Written by hand: h2 would not send either.
        frame = hyperframe.frame.HeadersFrame(1, flags=["END_HEADERS", "END_STREAM"])
        frame.data = client.encoder.encode([*post, *extra])
        if itself:
            frame.flags.add("PRIORITY")
            frame.depends_on, frame.stream_weight = 1, 15
        with pytest.raises(h2.exceptions.ProtocolError) as raised:
            server.receive_data(frame.serialize())
        assert type(raised.value) is h2.exceptions.ProtocolError and 1 in server.streams, (
            f"{H2}: a malformed request ({extra or 'depending on itself'}) no longer raises a "
            f"plain ProtocolError after opening its stream ({where})"
        )


# -- h2: a client's graceful GOAWAY ------------------------------------------------------------


def test_receive_goaway_frame_and_connection_state() -> None:
    """h2 closes on any GOAWAY (so the override is still needed); ServerConnection keeps
    a graceful one's connection open, telling it by ``state_machine.state``."""
    where = "daphne/_wire/h2_connection.py (ServerConnection._receive_goaway_frame)"
    method = getattr(h2.connection.H2Connection, "_receive_goaway_frame", None)
    assert method is not None, missing(H2, "H2Connection", "_receive_goaway_frame", where)
    assert _signature(method) == ["self", "frame"], (
        f"{H2}: H2Connection._receive_goaway_frame{inspect.signature(method)} changed ({where})"
    )
    for cls, stays_open in ((h2.connection.H2Connection, False), (ServerConnection, True)):
        client = _client()
        server = _limited(cls)
        server.receive_data(client.data_to_send() + _request(client, 1, b"one"))
        open_state = server.state_machine.state
        assert open_state is h2.connection.ConnectionState.SERVER_OPEN, (
            f"{H2}: an open server connection's state_machine.state is {open_state} ({where})"
        )
        client.close_connection()
        events = server.receive_data(client.data_to_send())
        assert [type(e) for e in events] == [h2.events.ConnectionTerminated]
        if stays_open:
            server.send_headers(1, [(b":status", b"200")], end_stream=True)
        else:
            with pytest.raises(h2.exceptions.ProtocolError):
                server.send_headers(1, [(b":status", b"200")], end_stream=True)


def test_sending_in_an_open_server_connection_changes_nothing() -> None:
    """ServerConnection.send_headers/send_data skip h2's connection state machine in
    SERVER_OPEN: h2's transition table must keep those inputs there, with no callback."""
    where = "daphne/_wire/h2_connection.py (ServerConnection.send_headers/send_data)"
    table = getattr(h2.connection.H2ConnectionStateMachine, "_transitions", None)
    assert isinstance(table, dict), missing(H2, "H2ConnectionStateMachine", "_transitions", where)
    state = h2.connection.ConnectionState.SERVER_OPEN
    for sent in (
        h2.connection.ConnectionInputs.SEND_HEADERS,
        h2.connection.ConnectionInputs.SEND_DATA,
        h2.connection.ConnectionInputs.RECV_HEADERS,  # ServerConnection._new_request
        h2.connection.ConnectionInputs.RECV_DATA,  # ServerConnection.receive_data
    ):
        assert table.get((state, sent)) == (None, state), (
            f"{H2}: {sent} in {state} is now {table.get((state, sent))} ({where})"
        )


def test_data_frames_are_dispatched_through_the_frame_wrapper() -> None:
    """ServerConnection._receive_frame hands DATA straight to ``_receive_data_frame`` and
    queues its frames with ``_prepare_for_sending``, as h2's ``_receive_frame`` does after
    the trace line it formats eagerly (``repr(frame)``: a hex dump of the payload)."""
    where = "daphne/_wire/h2_connection.py (ServerConnection._receive_frame)"
    for name, parameters in (
        ("_receive_frame", ["self", "frame"]),
        ("_receive_data_frame", ["self", "frame"]),
        ("_prepare_for_sending", ["self", "frames"]),
    ):
        method = getattr(h2.connection.H2Connection, name, None)
        assert method is not None, missing(H2, "H2Connection", name, where)
        assert _signature(method) == parameters, (
            f"{H2}: H2Connection.{name}{inspect.signature(method)} changed ({where})"
        )
    server = _limited(h2.connection.H2Connection)
    table = server._frame_dispatch_table
    assert table[hyperframe.frame.DataFrame] == server._receive_data_frame, (
        f"{H2}: DATA frames no longer go to H2Connection._receive_data_frame ({where})"
    )
    formatted: list[str] = []
    server.config.logger.trace = lambda text, *args: formatted.append(text % args)
    client = _client()
    server.receive_data(client.data_to_send() + _request(client, 1, b"one"))
    frame = hyperframe.frame.DataFrame(1, data=b"payload")
    server.receive_data(frame.serialize())
    assert any("<hex:7061796c6f6164>" in line for line in formatted), (
        f"{H2}: H2Connection._receive_frame no longer logs repr(frame); the shortcut in "
        f"{where} may be needless now"
    )


def test_what_the_direct_data_path_reads_and_calls() -> None:
    """ServerConnection.receive_data reads h2's frame buffer (``_data``, a bytearray of an
    unfinished frame; ``_preamble_len``; ``_headers_buffer``) and hands a DATA payload to
    the connection's window manager and the stream's ``receive_data``, as h2 does."""
    where = "daphne/_wire/h2_connection.py (ServerConnection.receive_data)"
    buffer = h2.frame_buffer.FrameBuffer(server=True)
    for name, kind in (("_data", bytearray), ("_preamble_len", int), ("_headers_buffer", list)):
        assert isinstance(getattr(buffer, name, None), kind), missing(
            H2, "FrameBuffer", name, where
        )
    buffer.add_data(PREFACE + b"\x00\x00\x05\x00\x00\x00\x00\x00\x01ab")
    assert list(buffer) == [] and bytes(buffer._data) == b"\x00\x00\x05\x00\x00\x00\x00\x00\x01ab"
    assert buffer._preamble_len == 0
    stream_method = getattr(h2.stream.H2Stream, "receive_data", None)
    assert stream_method is not None, missing(H2, "H2Stream", "receive_data", where)
    assert _signature(stream_method) == ["self", "data", "end_stream", "flow_control_len"], (
        f"{H2}: H2Stream.receive_data{inspect.signature(stream_method)} changed ({where})"
    )
    terminate = getattr(h2.connection.H2Connection, "_terminate_connection", None)
    assert terminate is not None, missing(H2, "H2Connection", "_terminate_connection", where)
    server = _limited(h2.connection.H2Connection)
    manager = getattr(server, "_inbound_flow_control_window_manager", None)
    assert callable(getattr(manager, "window_consumed", None)), missing(
        H2, "H2Connection", "_inbound_flow_control_window_manager.window_consumed", where
    )


def test_sending_data_on_an_open_stream_changes_nothing() -> None:
    """ServerConnection.send_data skips h2's stream state machine for SEND_DATA in OPEN and
    HALF_CLOSED_REMOTE, and H2Sender.pump reads a stream's window as h2's
    ``local_flow_control_window`` computes it: both must still hold."""
    where = "daphne/_wire/h2_connection.py (send_data), daphne/_wire/h2_stream.py (pump)"
    table = getattr(h2.stream, "_transitions", None)
    assert isinstance(table, dict), missing(H2, "h2.stream", "_transitions", where)
    for state in (h2.stream.StreamState.OPEN, h2.stream.StreamState.HALF_CLOSED_REMOTE):
        entry = table.get((state, h2.stream.StreamInputs.SEND_DATA))
        assert entry == (None, state), f"{H2}: SEND_DATA in {state} is now {entry} ({where})"
    client = _client()
    server = _limited(h2.connection.H2Connection)
    server.receive_data(client.data_to_send() + _request(client, 1, b"one"))
    stream = server.streams[1]
    stream.outbound_flow_control_window = 1000
    server.outbound_flow_control_window = 5000
    assert server.local_flow_control_window(1) == 1000
    server.outbound_flow_control_window = 700
    assert server.local_flow_control_window(1) == 700, (
        f"{H2}: local_flow_control_window is no longer the smaller of the connection's "
        f"and the stream's outbound windows ({where})"
    )


# -- h2: the frames of an unfinished header block ------------------------------------------------


def test_frame_buffer_holds_an_unfinished_header_block() -> None:
    """``FrameBuffer._headers_buffer`` holds HEADERS until the CONTINUATION with END_HEADERS."""
    where = "daphne/_wire/h2_lifetime.py (H2Lifetime._track_header_block)"
    server = new_connection(ServerConfig())
    server.initiate_connection()
    buffer = server.incoming_buffer
    assert isinstance(getattr(buffer, "_headers_buffer", None), list), missing(
        H2, "FrameBuffer", "_headers_buffer", where
    )
    block = hpack.Encoder().encode(
        [(b":method", b"GET"), (b":path", b"/"), (b":scheme", b"http"), (b":authority", b"x")]
    )
    headers = hyperframe.frame.HeadersFrame(1, data=block[:3], flags=["END_STREAM"])
    rest = hyperframe.frame.ContinuationFrame(1, data=block[3:], flags=["END_HEADERS"])
    server.receive_data(PREFACE + hyperframe.frame.SettingsFrame(0).serialize())
    server.receive_data(headers.serialize())
    assert server.incoming_buffer._headers_buffer, (
        f"{H2}: FrameBuffer._headers_buffer no longer holds a header block waiting for "
        f"CONTINUATION; --header-read-timeout would not see it ({where})"
    )
    events = server.receive_data(rest.serialize())
    assert any(isinstance(e, h2.events.RequestReceived) for e in events)
    assert not server.incoming_buffer._headers_buffer, (
        f"{H2}: FrameBuffer._headers_buffer is not emptied by END_HEADERS ({where})"
    )


# -- h2: the GOAWAY after a protocol error ------------------------------------------------------


def _ready_server() -> ServerConnection:
    """Daphne's server connection, past the client's preface and SETTINGS."""
    server = new_connection(ServerConfig())
    server.initiate_connection()
    server.receive_data(PREFACE + hyperframe.frame.SettingsFrame(0).serialize())
    server.data_to_send()
    return server


@pytest.mark.parametrize(
    ("frame", "cause", "corrected"),
    [
        (
            hyperframe.frame.HeadersFrame(1, data=b"\xff\xff\xff\xff", flags=["END_HEADERS"]),
            hpack.exceptions.HPACKError,
            h2.errors.ErrorCodes.COMPRESSION_ERROR,
        ),
        (
            hyperframe.frame.SettingsFrame(0, flags=["ACK"]),
            hyperframe.exceptions.InvalidDataError,
            h2.errors.ErrorCodes.FRAME_SIZE_ERROR,
        ),
    ],
    ids=["bad HPACK", "SETTINGS ACK with payload"],
)
def test_goaway_after_a_protocol_error(
    frame: hyperframe.frame.Frame, cause: type[Exception], corrected: int
) -> None:
    """h2 queues GOAWAY(highest stream, PROTOCOL_ERROR) last and raises ProtocolError from
    the cause; ServerConnection.error_data swaps that frame for the precise code."""
    where = "daphne/_wire/h2_connection.py (ServerConnection.error_data)"
    server = _ready_server()
    data = frame.serialize()
    if isinstance(frame, hyperframe.frame.SettingsFrame):
        # A SETTINGS ACK must be empty: give it a 6-byte payload by hand.
        data = b"\x00\x00\x06" + data[3:] + b"\x00\x01\x00\x00\x10\x00"
    with pytest.raises(h2.exceptions.ProtocolError) as raised:
        server.receive_data(data)
    error = raised.value
    assert isinstance(error.__cause__, cause), (
        f"{H2}: the ProtocolError is no longer raised from a {cause.__qualname__} "
        f"(got {error.__cause__!r}); the GOAWAY's code is not corrected ({where})"
    )
    if cause is hyperframe.exceptions.InvalidDataError:
        assert "ack" in str(error.__cause__), (
            f"{H2}/hyperframe: the SETTINGS ACK error no longer says 'ack' ({where})"
        )
    queued = goaway(server.highest_inbound_stream_id, h2.errors.ErrorCodes.PROTOCOL_ERROR)
    pending = server.data_to_send()
    assert pending.endswith(queued), (
        f"{H2}: after a protocol error h2 no longer queues GOAWAY(last stream, "
        f"PROTOCOL_ERROR) as its last frame; daphne cannot correct its code ({where})"
    )
    # What daphne sends: the same bytes, the GOAWAY's code corrected.
    again = _ready_server()
    with pytest.raises(h2.exceptions.ProtocolError) as raised_again:
        again.receive_data(data)
    sent = again.error_data(raised_again.value)
    assert sent.endswith(goaway(again.highest_inbound_stream_id, corrected))


def test_autobahn_native_masker_is_found_and_agrees() -> None:
    """autobahn's compiled XOR masker (the CFFI module ``_nvx_xormasker``: ``nvx_xormask_new``,
    ``nvx_xormask_process``, ``nvx_xormask_free``; ``daphne/_asgi/ws_frames.py`` calls it
    directly) is what daphne unmasks large frames with: where autobahn says it runs natively
    (``USES_NVX``), the module must be there and mask exactly as RFC 6455 §5.3 says, or large
    WebSocket frames would fall back to the slower pure-Python path without anyone noticing.
    Checked in a fresh interpreter, which must not load autobahn's Python package (nor
    pyOpenSSL, which it imports) to do it."""
    import autobahn.websocket

    where = f"autobahn {version('autobahn')}"
    if not autobahn.websocket.USES_NVX:
        pytest.skip(f"{where} has no native masker on this machine")
    code = (
        "import sys\n"
        "from daphne._asgi import ws_frames\n"
        "payload = bytes(range(256)) * 16\n"
        "mask = bytearray(b'\\x01\\x80\\x7f\\xff')\n"
        "expected = bytes(byte ^ mask[index % 4] for index, byte in enumerate(payload))\n"
        "assert ws_frames._load_native_masker() is not None, 'not found'\n"
        "assert ws_frames.unmask(payload, mask) == expected, 'masks differently'\n"
        "assert ws_frames.unmask(bytearray(payload), mask) == expected\n"
        "late = [m for m in ('autobahn', 'OpenSSL') if m in sys.modules]\n"
        "assert not late, late\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, f"{where}: {done.stderr}"
