"""Customers' own channels: what arrives by itself (chat and call transcripts, email) and the
threading of what MemoryCRM sends, so replies link to what they answer. See docs/channels.md."""
