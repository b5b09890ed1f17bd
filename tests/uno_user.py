"""What a user does to a workbook in LibreOffice, done through UNO: a standalone script for /usr/bin/python3.

`decorate IN OUT PNG`: add an image, a rectangle and a text box to `nnet`, a comment on `linear`, a custom
number format on nnet's parameter cells, rich text, a user's own `curves` sheet (data and a chart) and
`History` sheet; save as .xlsx. `inspect PATH`: report what LibreOffice sees, as JSON.
"""
import json
import sys
from pathlib import Path

import uno
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src" / "xlnet" / "peers"))
from lo_solver import connect  # noqa: E402  (a standalone script too: it imports nothing from xlnet)
from com.sun.star.awt import Point, Rectangle, Size
from com.sun.star.beans import PropertyValue
from com.sun.star.table import CellAddress, CellRangeAddress

NUMBER_FORMAT = '0.000000" w"'


def prop(name, value):
    p = PropertyValue()
    p.Name, p.Value = name, value
    return p


def load(ctx, path):
    desktop = ctx.ServiceManager.createInstanceWithContext("com.sun.star.frame.Desktop", ctx)
    return desktop.loadComponentFromURL(uno.systemPathToFileUrl(path), "_blank", 0, (prop("Hidden", True),))


def decorate(ctx, doc, out, png):
    sheets = doc.Sheets
    nnet = sheets.getByName("nnet")
    page = nnet.DrawPage
    provider = ctx.ServiceManager.createInstanceWithContext("com.sun.star.graphic.GraphicProvider", ctx)
    image = doc.createInstance("com.sun.star.drawing.GraphicObjectShape")
    image.Graphic = provider.queryGraphic((prop("URL", uno.systemPathToFileUrl(png)),))
    page.add(image)
    image.setSize(Size(3000, 2000))
    image.setPosition(Point(20000, 30000))
    rect = doc.createInstance("com.sun.star.drawing.RectangleShape")
    page.add(rect)
    rect.setSize(Size(4000, 1500))
    rect.setPosition(Point(26000, 30000))
    box = doc.createInstance("com.sun.star.drawing.TextShape")
    page.add(box)
    box.setSize(Size(6000, 1500))
    box.setPosition(Point(32000, 30000))
    box.setString("my note on the net")
    linear = sheets.getByName("linear")
    linear.Annotations.insertNew(CellAddress(0, 0, 3), "a comment of mine")
    locale = uno.createUnoStruct("com.sun.star.lang.Locale")
    formats = doc.NumberFormats
    key = formats.queryKey(NUMBER_FORMAT, locale, False)
    if key == -1:
        key = formats.addNew(NUMBER_FORMAT, locale)
    nnet.getCellRangeByName("R4:AA5").NumberFormat = key
    sheets.insertNewByName("curves", sheets.Count)
    mine = sheets.getByName("curves")
    for r in range(5):
        mine.getCellByPosition(0, r).setValue(r)
        mine.getCellByPosition(1, r).setValue(r * r)
    rng = CellRangeAddress(mine.RangeAddress.Sheet, 0, 0, 1, 4)
    mine.Charts.addNewByName("MyChart", Rectangle(3000, 1000, 8000, 6000), (rng,), False, False)
    sheets.insertNewByName("History", sheets.Count)
    cell = sheets.getByName("History").getCellByPosition(0, 0)
    text = cell.Text
    cursor = text.createTextCursor()
    text.insertString(cursor, "plain and ", False)
    cursor.CharWeight = 150.0
    cursor.CharColor = 0xFF0000
    text.insertString(cursor, "bold red", False)
    doc.storeToURL(uno.systemPathToFileUrl(out), (prop("FilterName", "Calc MS Excel 2007 XML"),))


def inspect(ctx, doc):
    sheets = doc.Sheets
    nnet = sheets.getByName("nnet")
    page = nnet.DrawPage
    shapes = sorted(page.getByIndex(i).ShapeType for i in range(page.Count))
    texts = sorted(page.getByIndex(i).getString() for i in range(page.Count)
                   if page.getByIndex(i).ShapeType != "com.sun.star.drawing.GraphicObjectShape")
    linear = sheets.getByName("linear")
    notes = [linear.Annotations.getByIndex(i).getString() for i in range(linear.Annotations.Count)]
    key = nnet.getCellRangeByName("R4").NumberFormat
    fmt = doc.NumberFormats.getByKey(key).FormatString
    out = {"sheets": list(sheets.ElementNames), "shapes": shapes, "texts": texts, "comments": notes,
           "param_format": fmt}
    if sheets.hasByName("curves"):
        mine = sheets.getByName("curves")
        out["user_charts"] = list(mine.Charts.ElementNames)
        out["user_curves"] = [mine.getCellByPosition(1, r).getValue() for r in range(5)]
    if sheets.hasByName("History"):
        cell = sheets.getByName("History").getCellByPosition(0, 0)
        enum = cell.Text.createEnumeration()
        runs = []
        while enum.hasMoreElements():
            para = enum.nextElement().createEnumeration()
            while para.hasMoreElements():
                portion = para.nextElement()
                runs.append([portion.getString(), portion.CharWeight, portion.CharColor])
        out["rich_text"] = runs
    libs = doc.BasicLibraries
    out["basic_libraries"] = list(libs.ElementNames)
    code = ""
    for name in libs.ElementNames:
        lib = libs.getByName(name)
        for module in lib.ElementNames:
            code += lib.getByName(module)
    out["macro_code_has_msgbox"] = "MsgBox" in code
    doc.calculateAll()
    out["losses"] = {name: sheets.getByName(name).getCellRangeByName(cell).getValue()
                     for name, cell in (("linear", "AD1"), ("nnet", "AH1"), ("mmult", "AA1"))}
    return out


def main():
    action, pipe, *args = sys.argv[1:]
    ctx = connect(pipe)
    doc = load(ctx, args[0])
    try:
        if action == "decorate":
            decorate(ctx, doc, args[1], args[2])
            print(json.dumps({"ok": True}))
        else:
            print(json.dumps(inspect(ctx, doc)))
    finally:
        doc.close(True)


if __name__ == "__main__":
    main()
