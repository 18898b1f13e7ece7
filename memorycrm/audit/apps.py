from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "memorycrm.audit"
    label = "audit"
    verbose_name = "Audit log"
