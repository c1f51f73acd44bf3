"""Send-log parsers: one module per format (Postfix, PowerMTA, KumoMTA, SES, SendGrid, generic), each a SQL query over a file's lines or records."""
