"""The xlsx package format, read and written without a cell object per cell.

`read` streams a workbook's sheets; `write` streams a new workbook; `patch` changes
a workbook in place, rewriting only the parts and cells xlnet owns; `safety`
vets packages from anywhere and makes every write atomic and exclusive.
"""
