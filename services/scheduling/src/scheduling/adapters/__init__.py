"""The outside world this service talks to or runs: the OR-Tools surgery plan optimiser."""
