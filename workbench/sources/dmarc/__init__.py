"""DMARC aggregate and failure reports and SMTP TLS reports: pure parsers and their loader."""
