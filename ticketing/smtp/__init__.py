"""The mail doors: the SMTP intake server and the IMAP fetcher (adapters over mail.flows)."""
