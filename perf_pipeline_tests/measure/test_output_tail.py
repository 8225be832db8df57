"""What is kept of a child's output: its first lines and its end, counted in bytes."""

from __future__ import annotations

from pathlib import Path

from perf_pipeline.measure.output_tail import output_tail


def test_an_output_tail_counts_bytes_and_never_repeats_a_line(tmp_path: Path) -> None:
    out = tmp_path / "out"
    lines = [f"line {i:04d} " + "x" * 40 for i in range(84)]  # 4,284 bytes: just over
    out.write_text("\n".join(lines) + "\n")
    shown = output_tail(out)
    assert "left out" not in shown
    assert all(shown.count(f"line {i:04d} ") == 1 for i in range(84))

    out.write_bytes(("é" * 6000).encode())  # 12,000 bytes of two-byte characters
    shown = output_tail(out)
    head, marker, tail = shown.split("\n")
    assert marker == "[... 7400 bytes left out ...]"  # 12,000 - 600 - 4,000
    assert len(head.encode()) + len(tail.encode()) + 7400 == 12000
    assert "\ufffd" not in shown  # neither end cut inside a character

    out.write_text("".join(f"{i:05d}\n" for i in range(2000)))  # 12,000 bytes of lines
    head, _, tail = output_tail(out).partition("\n[... ")
    assert head.endswith("00099") and tail.endswith("01999\n")
