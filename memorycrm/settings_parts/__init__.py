"""Parts of the settings, assembled by memorycrm.settings (DJANGO_SETTINGS_MODULE stays
memorycrm.settings): `environment` (the readers of environment variables, where the code and the
data live, whether tests run) and `domain` (MemoryCRM's own tunables, app by app)."""
