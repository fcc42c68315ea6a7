"""The `cmr` command line, a client of the gateway only."""
