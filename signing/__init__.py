"""Signing: regional trust stores and revocation, hardware tokens (PKCS#11), second factors, CMS and PAdES
signatures, and the transparency log.

Must never import ``evalroom``, ``sites`` or ``media``: the coordinator depends on this package, not the
other way round (docs/architecture.md).
"""
