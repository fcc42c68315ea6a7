"""The shared kernel: the language every context, the gateway and the command line speak.

Names and their grammar, offer URLs, access levels and their ladders, endpoint roles and scopes,
the sides of a cross-model relation, offer-token claims and typed errors with machine-readable
reasons. Pure Python: no gRPC, no SQL, no context's code.
"""
