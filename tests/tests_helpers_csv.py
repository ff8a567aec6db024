"""Small CSV writer shared by tests that need an imported register."""

import csv

from kiosk.biodata import FIELDS


def write_register(path, rows):
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=FIELDS)
        w.writeheader()
        w.writerows(rows)
    return path
