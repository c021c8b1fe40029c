"""How good a pattern is: its ratio and specificity (scoring.py), its path (paths.py), the two-choice test,
and whether other models read class patterns as their class (transfer.py). See docs/method.md."""
