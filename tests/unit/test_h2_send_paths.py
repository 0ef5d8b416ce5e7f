"""ServerConnection's own send_headers/send_data against h2's, operation by operation.

Two server connections get the same client requests, then the same sequence of
sends (responses with and without END_STREAM, DATA of any size, trailers, 1xx,
sends on finished or unknown streams, frames bigger than the peer allows);
one takes our direct path, the other h2's own methods.  The bytes queued, the
errors raised and every stream's state and windows must agree.
"""

from __future__ import annotations

import h2.config
import h2.connection
import h2.exceptions
import h2.settings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from daphne._config import ServerConfig
from daphne._wire.h2_connection import ServerConnection, new_connection


def _reference(conn: ServerConnection) -> ServerConnection:
    """The same connection, sending through h2's own methods."""

    class Reference(ServerConnection):
        send_headers = h2.connection.H2Connection.send_headers  # type: ignore[assignment]
        send_data = h2.connection.H2Connection.send_data  # type: ignore[assignment]

    conn.__class__ = Reference
    return conn


def _pair(frame_size: int) -> tuple[ServerConnection, ServerConnection, bytes]:
    client = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    client.initiate_connection()
    client.update_settings({h2.settings.SettingCodes.MAX_FRAME_SIZE: frame_size})
    for stream_id in (1, 3, 5, 7):
        client.send_headers(
            stream_id,
            [(":method", "GET"), (":scheme", "http"), (":authority", "a"), (":path", "/")],
            end_stream=stream_id != 7,
        )
    wire = client.data_to_send()
    ours, theirs = new_connection(ServerConfig()), _reference(new_connection(ServerConfig()))
    for conn in (ours, theirs):
        conn.initiate_connection()
        conn.receive_data(wire)
        conn.data_to_send()
    return ours, theirs, wire


def _state(conn: ServerConnection) -> object:
    return (
        conn.state_machine.state,
        conn.outbound_flow_control_window,
        {
            sid: (
                s.state_machine.state,
                s.state_machine.headers_sent,
                s.state_machine.trailers_sent,
                s.outbound_flow_control_window,
                s.request_method,
            )
            for sid, s in conn.streams.items()
        },
    )


streams = st.sampled_from([1, 3, 5, 7, 9])
head = st.lists(
    st.sampled_from([(b"content-type", b"text/plain"), (b"x-long", b"v" * 300), (b"server", b"d")]),
    max_size=40,
)
operations = st.one_of(
    st.tuples(
        st.just("headers"), streams, st.sampled_from([b"200", b"404", b"103"]), head, st.booleans()
    ),
    # (h2 fails on an empty block with an IndexError; we never send one.)
    st.tuples(st.just("trailers"), streams, head.filter(bool), st.booleans()),
    st.tuples(st.just("data"), streams, st.integers(0, 20000), st.booleans()),
)


def _apply(conn: ServerConnection, operation: tuple[object, ...]) -> object:
    kind, stream_id = operation[0], operation[1]
    assert isinstance(stream_id, int)
    try:
        if kind == "headers":
            _, _, status, fields, end = operation
            conn.send_headers(stream_id, [(b":status", status), *fields], end_stream=end)  # type: ignore[list-item]
        elif kind == "trailers":
            _, _, fields, end = operation
            conn.send_headers(stream_id, list(fields), end_stream=end)  # type: ignore[call-overload]
        else:
            _, _, size, end = operation
            conn.send_data(stream_id, b"x" * size, end_stream=end)  # type: ignore[operator]
    except Exception as error:  # whatever h2 raises (a KeyError, at times), ours must too
        return type(error).__name__
    return None


@settings(
    max_examples=3 * settings.default.max_examples // 2,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(st.sampled_from([16384, 20000]), st.lists(operations, min_size=1, max_size=12))
def test_direct_sends_match_h2(frame_size: int, sequence: list[tuple[object, ...]]) -> None:
    ours, theirs, _ = _pair(frame_size)
    assert type(ours).send_headers is ServerConnection.send_headers
    for operation in sequence:
        assert _apply(ours, operation) == _apply(theirs, operation)
        assert ours.data_to_send() == theirs.data_to_send()
        assert _state(ours) == _state(theirs)


def test_a_big_header_block_is_split_into_continuations() -> None:
    ours, theirs, _ = _pair(16384)
    fields = [(b":status", b"200")] + [(b"x-%d" % i, b"v" * 200) for i in range(200)]
    ours.send_headers(1, fields, end_stream=True)
    theirs.send_headers(1, fields, end_stream=True)
    sent = ours.data_to_send()
    assert sent == theirs.data_to_send()
    assert len(sent) > 16384 and sent[9 + 16384 + 3] == 0x9  # a CONTINUATION frame follows
