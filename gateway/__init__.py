"""The public API: authentication, orchestration and status composition."""
