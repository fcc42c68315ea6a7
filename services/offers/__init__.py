"""The offers context: offers, offer URLs, consumed offers (SAAS) and offer firewall rules."""
