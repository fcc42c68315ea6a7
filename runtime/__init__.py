"""The composition root: builds a controller's parts and runs them, in one process or several.

The command line's `bootstrap`, `serve` and `kill-controller` come here; nothing else builds a
service or the gateway. It binds every server first, then builds each part with every address
and its co-located peers known, then starts them (`runtime.embedded`).
"""

from runtime.embedded import build, build_embedded, serve, write_ready_file
from runtime.process import remove_server_files, start_background, stop_process
from services.common.server import start_all

__all__ = [
    "build",
    "build_embedded",
    "remove_server_files",
    "serve",
    "start_all",
    "start_background",
    "stop_process",
    "write_ready_file",
]
