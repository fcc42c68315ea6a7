"""`cmr-load`: a loopback-only gRPC load generator for a cmr controller and its services.

Modules: `target` (the loopback rule), `ops` (the table of operations per service), `mix`
(weighted operation mixes), `stats` (pure aggregation and report), `driver` (the `grpc.aio`
clients) and `main` (the click command).
"""
