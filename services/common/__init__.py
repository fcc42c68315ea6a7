"""Plumbing shared by every service: error kinds, status mapping, stores, feeds, servers."""
