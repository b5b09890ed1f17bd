"""xlnet: the fast.ai lesson's spreadsheet neural net, built from a CSV and fitted in numpy."""
from .errors import XlnetError

__all__ = ["XlnetError"]
