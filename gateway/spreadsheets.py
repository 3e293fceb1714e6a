"""Reading the resident spreadsheets communities keep (CSV or XLSX) into rows of cell strings.

The registry maps the columns and checks each row; the gateway only turns a file into
``(header, [(row_number, cells), …])`` with the row numbers a person sees in Excel, and cuts it
into chunks for ``registry.import_residents``. CSV is read as UTF-8 (a BOM, as Excel writes it,
is dropped) and, failing that, as GBK, the encoding of Chinese Excel's "CSV" export. XLSX is read
in openpyxl's read-only mode, which streams rows instead of loading the whole workbook.
"""
import csv
import io
import zipfile
from datetime import date, datetime

from marshmallow import ValidationError

CHUNK_ROWS = 1000
# What openpyxl raises on a damaged file: a broken zip, a missing part, malformed XML
# (ElementTree's ParseError is a SyntaxError), a bad cell reference or value, a missing shared string.
XLSX_ERRORS = (zipfile.BadZipFile, KeyError, IndexError, ValueError, TypeError, OSError, SyntaxError)


def unreadable(message):
    return ValidationError({"file": [message]})


def decode_csv(data):
    for encoding in ("utf-8-sig", "gbk"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise unreadable("The CSV file is neither UTF-8 nor GBK text.")


def _cell(value):
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # Excel stores 3 as 3.0; the registry wants "3"
    return str(value).strip()


def _csv_rows(data):
    text = decode_csv(data)
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text), dialect)
    try:
        return [[cell.strip() for cell in row] for row in reader]
    except csv.Error as exc:  # a cell over csv's field_size_limit (131,072 characters)
        raise unreadable(f"The CSV file cannot be read at line {reader.line_num}: {exc}.") from None


def _xlsx_rows(data):
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except XLSX_ERRORS as exc:
        raise unreadable(f"The XLSX file cannot be read: {exc.__class__.__name__}.") from None
    # Read-only mode parses the sheet while we iterate, so a damaged sheet fails here, row by row.
    rows = []
    try:
        for row in workbook.worksheets[0].iter_rows(values_only=True):
            rows.append([_cell(value) for value in row])
    except XLSX_ERRORS as exc:
        raise unreadable(f"The XLSX file cannot be read at row {len(rows) + 1}: {exc.__class__.__name__}.") from None
    finally:
        workbook.close()
    return rows


def read(kind, data):
    """``(header, [(row_number, cells), …])``; blank rows are dropped but keep their numbers' gap."""
    if not data:
        raise unreadable("The file is empty.")
    rows = _xlsx_rows(data) if kind == "xlsx" else _csv_rows(data)
    numbered = [(number, row) for number, row in enumerate(rows, start=1) if any(cell for cell in row)]
    if not numbered:
        raise unreadable("The file has no rows.")
    (_, header), body = numbered[0], numbered[1:]
    header = [cell.lstrip("\ufeff").strip() for cell in header]
    if not body:
        raise unreadable("The file has a header row but no residents.")
    width = len(header)
    return header, [(number, (cells + [""] * width)[:max(width, len(cells))]) for number, cells in body]


def chunks(numbered_rows, size=CHUNK_ROWS):
    """``(first_row_number, rows)`` of at most ``size`` consecutive rows; a blank row starts a new
    chunk, so the registry's row numbers (first + index) stay those of the spreadsheet."""
    first, rows, expected = None, [], None
    for number, cells in numbered_rows:
        if rows and (number != expected or len(rows) >= size):
            yield first, rows
            rows = []
        if not rows:
            first = number
        rows.append(cells)
        expected = number + 1
    if rows:
        yield first, rows


def empty_result():
    return {"created": 0, "updated": 0, "unchanged": 0, "errors": [], "changes": []}


def add_results(total, part):
    for key in ("created", "updated", "unchanged"):
        total[key] += part.get(key, 0)
    for key in ("errors", "changes"):
        total[key].extend(part.get(key, []))
    return total


def template(header, example):
    """An XLSX workbook: the header row and one example row, every column formatted as text, so
    Excel keeps an 18-digit ID number (as a number it keeps only 15 digits) and a phone's digits."""
    from openpyxl import Workbook
    from openpyxl.utils import get_column_letter

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "居民"
    sheet.append(header)
    sheet.append(example)
    for index, title in enumerate(header, start=1):
        letter = get_column_letter(index)
        sheet.column_dimensions[letter].number_format = "@"
        sheet.column_dimensions[letter].width = max(10, len(str(example[index - 1])) + 4)
        for row in (1, 2):
            sheet[f"{letter}{row}"].number_format = "@"
    sheet.freeze_panes = "A2"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
