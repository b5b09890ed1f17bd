"""xlnet: spreadsheet neural nets. A CSV becomes a live-formula workbook, fitted in numpy, kept the user's.

    import xlnet
    summary = xlnet.build_workbook("data.csv", "model.xlsx", target="y", hidden=4)
    results = xlnet.fit_workbook("model.xlsx")
    compared = xlnet.compare_workbook("model.xlsx")

Every function raises XlnetError with the message the `xlnet` command prints.
"""
from .errors import XlnetError

__all__ = ["XlnetError", "build_workbook", "fit_workbook", "compare_workbook", "restore_workbook", "inspect_csv",
           "cross_validate", "predict_csv"]


def __getattr__(name: str):
    """The API, imported on first use so that `import xlnet` stays light."""
    if name == "build_workbook":
        from .build import build
        return build
    if name == "fit_workbook":
        from .fit import fit_workbook
        return fit_workbook
    if name == "compare_workbook":
        from .compare import compare_workbook
        return compare_workbook
    if name == "restore_workbook":
        from .restore import restore_workbook
        return restore_workbook
    if name == "cross_validate":
        from .cv import cross_validate
        return cross_validate
    if name == "predict_csv":
        from .predict import predict_csv
        return predict_csv
    if name == "inspect_csv":
        from .inspect import inspect_csv
        return inspect_csv
    raise AttributeError(name)
