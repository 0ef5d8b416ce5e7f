"""The access log's stream: lines of one loop iteration go out in one write, cut at PIPE_BUF."""

from __future__ import annotations

import asyncio
import io

from daphne._process.log_stream import ATOMIC_WRITE, LoopBatchedStream


class Recorder(io.StringIO):
    """Records each write and flush the batched stream makes."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[str] = []
        self.flushes = 0

    def write(self, text: str) -> int:
        self.writes.append(text)
        return super().write(text)

    def flush(self) -> None:
        self.flushes += 1


def test_outside_a_loop_each_write_goes_out_at_once() -> None:
    target = Recorder()
    stream = LoopBatchedStream(target)
    stream.write("one\n")
    assert target.writes == ["one\n"] and target.flushes == 1
    stream.write("two\n")
    assert target.writes == ["one\n", "two\n"]


def test_lines_of_one_iteration_are_one_write_after_it() -> None:
    target = Recorder()
    stream = LoopBatchedStream(target)
    seen_during: list[list[str]] = []

    async def main() -> None:
        for number in range(5):
            stream.write(f"line {number}\n")
        seen_during.append(list(target.writes))
        await asyncio.sleep(0)  # the iteration ends: the batch is written
        await asyncio.sleep(0)
        stream.write("later\n")
        await asyncio.sleep(0)
        await asyncio.sleep(0)

    asyncio.run(main())
    assert seen_during == [[]]
    assert target.writes == ["".join(f"line {n}\n" for n in range(5)), "later\n"]
    assert target.flushes == 2


def test_batches_are_cut_at_line_ends_below_pipe_buf() -> None:
    target = Recorder()
    stream = LoopBatchedStream(target)
    lines = [f"{n:05d} " + "x" * 93 + "\n" for n in range(200)]  # 100 bytes each

    async def main() -> None:
        for line in lines:
            stream.write(line)
        await asyncio.sleep(0)
        await asyncio.sleep(0)

    asyncio.run(main())
    assert "".join(target.writes) == "".join(lines)
    assert len(target.writes) == 5  # 40 lines (4000 bytes) per write
    for piece in target.writes:
        assert len(piece.encode()) <= ATOMIC_WRITE and piece.endswith("\n")


def test_non_ascii_lines_are_measured_in_bytes() -> None:
    target = Recorder()
    stream = LoopBatchedStream(target)
    line = "é" * 1000 + "\n"  # 2001 bytes, 1001 characters

    async def main() -> None:
        for _ in range(3):
            stream.write(line)
        await asyncio.sleep(0)
        await asyncio.sleep(0)

    asyncio.run(main())
    assert target.writes == [line * 2, line]


def test_a_closed_target_never_raises() -> None:
    target = io.StringIO()
    stream = LoopBatchedStream(target)
    target.close()
    stream.write("dropped\n")  # ValueError inside: swallowed
    stream.flush()


def test_pending_lines_are_written_by_flush() -> None:
    target = Recorder()
    stream = LoopBatchedStream(target)

    async def main() -> None:
        stream.write("a\n")
        stream.write("b\n")
        stream.flush()  # what atexit does when the loop never gets to it
        assert target.writes == ["a\nb\n"]

    asyncio.run(main())
