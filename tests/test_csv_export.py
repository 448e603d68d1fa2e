"""Every CSV the portal writes: a cell a spreadsheet would run as a formula is written as text, and rows are
streamed as they are read, not built in memory first."""

import csv
import io

from flask import Flask

from webapp.csv_export import csv_response, neutralise


def read(response):
    return list(csv.reader(io.StringIO(response.get_data(as_text=True))))


def test_a_cell_a_spreadsheet_would_run_as_a_formula_gets_a_leading_apostrophe():
    for hostile in ('=HYPERLINK("https://evil.example","click")', "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A9)",
                    "\t=1+1", "\r=1+1"):
        assert neutralise(hostile) == "'" + hostile, repr(hostile)


def test_ordinary_cells_and_numbers_are_written_as_they_are():
    for value in ("admin@acme.example", "key_created", "2026-11-25T10:00:00Z", "", "a=b", "Main pool - spare", 42, -5,
                  None):
        assert neutralise(value) == value


def test_csv_response_streams_its_rows_as_they_are_read():
    app = Flask(__name__)
    read_so_far = []

    def rows():
        for number in range(3):
            read_so_far.append(number)
            yield [number, f"=row {number}"]

    with app.test_request_context():
        response = csv_response("things.csv", ["number", "label"], rows())
        assert response.is_streamed and read_so_far == []  # nothing read before the body is sent
        assert response.mimetype == "text/csv"
        assert response.headers["Content-Disposition"] == "attachment; filename=things.csv"
        assert "no-store" in response.headers["Cache-Control"]
        assert read(response) == [["number", "label"], ["0", "'=row 0"], ["1", "'=row 1"], ["2", "'=row 2"]]
    assert read_so_far == [0, 1, 2]
