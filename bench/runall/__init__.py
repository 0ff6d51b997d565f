"""bench/run-all: the evaluation harness (figures P1-P8 and the epoch timeline)."""
