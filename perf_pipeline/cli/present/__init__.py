"""One presenter per outcome: how each command's result is printed (and its JSON).

Presenters print; they do not decide exit codes and call no library step.
"""
