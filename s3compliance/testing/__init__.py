"""Testing support: the embedded demo account (moto) and emulations of what moto lacks.

Never on the scan path: the scan, checks and outputs import nothing from here (the notebook
helper imports the demo account only when the parameters ask for ``demo``).
"""
