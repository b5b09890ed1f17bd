"""xlnet: spreadsheet neural nets. A CSV becomes a live-formula workbook, fitted in numpy, kept the user's.

    import xlnet
    summary = xlnet.build_workbook("data.csv", "model.xlsx", target="y", hidden=4)
    results = xlnet.fit_workbook("model.xlsx")
    compared = xlnet.compare_workbook("model.xlsx")

Every function raises XlnetError with the message the `xlnet` command prints.
"""
import importlib

from xlnet.errors import XlnetError

API = {"build_workbook": ("build", "build"), "fit_workbook": ("fit", "fit_workbook"),
       "compare_workbook": ("compare", "compare_workbook"), "restore_workbook": ("restore", "restore_workbook"),
       "inspect_csv": ("inspect", "inspect_csv"), "cross_validate": ("cv", "cross_validate"),
       "predict_csv": ("predict", "predict_csv")}
__all__ = ["XlnetError", *API]


def __getattr__(name: str):
    """The API, imported on first use so that `import xlnet` stays light."""
    if name not in API:
        raise AttributeError(name)
    module, attr = API[name]
    return getattr(importlib.import_module(f".commands.{module}", __name__), attr)
