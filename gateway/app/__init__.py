"""The gateway's use cases: each command's orchestration over the services' ports.

A use case takes the caller, plain arguments and a `Deadline`, asks the ports, and returns the
contract's messages; it raises `kernel.errors` kinds. It knows nothing of gRPC servicers:
`gateway.server` authenticates, parses, calls one use case and converts.
"""
