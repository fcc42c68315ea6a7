"""cmr services: one package per bounded context, plus shared plumbing in `common`."""
