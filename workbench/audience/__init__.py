"""The audience: contacts, segments and suppression."""
