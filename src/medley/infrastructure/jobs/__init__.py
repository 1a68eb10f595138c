"""The job engine: storage, state machine, worker runtime, maintenance."""
