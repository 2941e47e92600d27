"""What every benchmark command shares: the job engine, its store, provenance, the process
environment and the command-line conventions."""
