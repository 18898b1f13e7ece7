"""The moments app holds two domains, each a subpackage with its own rooms:

sentiment/  scoring texts with the flair classifier: model training and status, scores,
            agents' corrections
memory/     memory moments: detection, tags, impact, recall forecast, balance, the journey map

Shared at the app level: models.py and migrations/ (one app label), admin.py, access.py (who
may see which moments), enqueue.py (queues both domains' tasks by dotted path), signals.py
(the events other apps hear), privacy.py, urls.py, templates/ and templatetags/.
"""
