"""The access context: users, credentials, sessions and the controller's identity."""
