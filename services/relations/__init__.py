"""The relations context: relations, endpoints, ids, status, suspension and scope."""
