"""The audit log: who changed MemoryCRM's configuration (rules, the tag taxonomy, weights) and
who erased which customer. Built on django-auditlog; this app adds the actor for API tokens, the
read-only admin, the secret masking and the erasure entry (see README "Audit log")."""
