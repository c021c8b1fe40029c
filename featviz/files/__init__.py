"""Files: what ships with featviz (bundled.py) and what it writes, atomically and under a lock (output.py)."""
