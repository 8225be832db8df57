"""Short benchmark labels that never collide (tables, plots, Dagster metadata)."""

from __future__ import annotations

from perf_pipeline.report.labels import short_benchmark_names


def test_labels_keep_as_much_of_the_path_as_tells_them_apart() -> None:
    names = ["a/io/test_x.py::test_t", "b/io/test_x.py::test_t", "c/test_y.py::test_t",
             "test_t", "d/test_z.py::K::test_u[1]"]
    assert short_benchmark_names(names) == {
        "a/io/test_x.py::test_t": "a/io/test_x.py::test_t",
        "b/io/test_x.py::test_t": "b/io/test_x.py::test_t",
        "c/test_y.py::test_t": "c/test_y.py::test_t",
        "test_t": "test_t",
        "d/test_z.py::K::test_u[1]": "K::test_u[1]",
    }
    # The same tests give the same labels, whatever the order: keys stable per partition.
    assert short_benchmark_names(reversed(names)) == short_benchmark_names(names)
    io, parse = "tests/test_io.py::test_speed", "tests/test_parse.py::test_speed"
    assert short_benchmark_names([io, parse]) == {io: "test_io.py::test_speed",
                                                  parse: "test_parse.py::test_speed"}
