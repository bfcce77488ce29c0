"""The built-in payer plugins.

Each module is one payer's plugin, installed through the ``j9330_rules``
entry-point group exactly as a third party's would be; its policy lives in
a spec under ``specs/``.
"""
