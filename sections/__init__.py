"""One module per lecture section: each re-measures the slides' claims and writes reports/<section>.md."""
