"""{% slot "name" %}: render what the apps registered for a named slot (memorycrm/lib/slots.py)."""

from __future__ import annotations

from django import template
from django.template import Engine
from django.utils.safestring import SafeString, mark_safe

from memorycrm.lib import slots

register = template.Library()


@register.simple_tag(takes_context=True)
def slot(context: template.Context, name: str) -> SafeString:
    """Each filler is rendered like ``{% include %}``: with the page's context (so per-page
    caches kept on the context or the request are shared) in a pushed layer of its own."""
    engine = context.template.engine if context.template else Engine.get_default()
    parts = []
    for template_name in slots.templates(name):
        with context.push():
            parts.append(engine.get_template(template_name).render(context))
    return mark_safe("".join(parts))  # noqa: S308  (rendered templates: escaped by Django)
