"""The composition root: builds a controller's parts and runs them, in one process or several.

The command line's `bootstrap`, `serve` and `kill-controller` come here; nothing else builds a
service or the gateway.
"""

from runtime.embedded import build_embedded, serve, write_ready_file
from runtime.process import remove_server_files, start_background, stop_process

__all__ = [
    "build_embedded",
    "remove_server_files",
    "serve",
    "start_background",
    "stop_process",
    "write_ready_file",
]
