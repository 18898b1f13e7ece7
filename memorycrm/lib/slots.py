"""Extension points in shared pages: named *slots* that apps to the right fill in.

Pages of the leftmost app (``customers``) and the project's ``base.html`` must not know the
apps that build on them (moments, surveys, interventions): they may not ``{% load %}`` those
apps' template tags nor ``{% include %}`` their templates (tests/test_dependencies.py checks).
Instead a page names a slot, ``{% slot "customer-panels" %}``, and each app registers the
templates that fill it from its ``AppConfig.ready()``::

    slots.register("customer-panels", "moments/slots/customer_panels.html", order=10)

A slot renders its templates in ``order`` (then by registration), each with the page's own
context, as ``{% include %}`` would: the template loads its own app's tags. The slots:

==================== ==========================================================================
nav                  links in the main navigation (context: request, user, perms)
customer-panels      panels beside a customer's timeline (+ customer)
interaction-tools    a timeline item's markers and controls, behind its Actions menu
                     (+ interaction, page: the timeline page, for one query per page)
interaction-foot     under a timeline item's text (+ interaction, page)
==================== ==========================================================================

Controls that belong in an item's Actions menu carry the class ``item-action``: they are hidden
until the menu is opened (static/js/ui.js), and shown always when scripts do not run.
"""

from __future__ import annotations

from dataclasses import dataclass

SLOTS = ("nav", "customer-panels", "interaction-tools", "interaction-foot")


@dataclass(frozen=True)
class Filler:
    template: str
    order: int


_fillers: dict[str, list[Filler]] = {name: [] for name in SLOTS}


def register(slot: str, template: str, *, order: int = 100) -> None:
    """Fill ``slot`` with ``template``. Registering the same template again changes nothing
    (``ready()`` may run twice in tests); an unknown slot name is an error at start-up."""
    if slot not in _fillers:
        raise ValueError(f"Unknown slot {slot!r}: one of {', '.join(SLOTS)}")
    fillers = _fillers[slot]
    if any(f.template == template for f in fillers):
        return
    fillers.append(Filler(template=template, order=order))
    fillers.sort(key=lambda f: f.order)  # stable: equal orders keep registration order


def templates(slot: str) -> list[str]:
    """The templates that fill ``slot``, in order."""
    if slot not in _fillers:
        raise ValueError(f"Unknown slot {slot!r}: one of {', '.join(SLOTS)}")
    return [f.template for f in _fillers[slot]]
