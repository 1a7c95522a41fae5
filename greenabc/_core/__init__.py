"""greenabc's implementation; the public names are re-exported by ``greenabc``."""

from ._compiled import choose

choose()  # compiled modules or their sources: before any of them is imported
