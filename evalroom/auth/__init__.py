"""Authentication: the token-signing key ring, access tokens, staff passwords."""
