"""The placement context: models, charms, applications, machines and units."""
