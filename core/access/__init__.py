"""Who may do what: the signed-in Principal and `require` (`principal`), roles granted by admins
(`roles`) and the audit log (`audit`).
"""
