"""`onshi synth`: a realistic synthetic Japan in the CSV format of CONTRACT.md §4."""
