"""Load demo users, customers and interactions. Idempotent: running it twice adds nothing."""

from __future__ import annotations

import logging
import random
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from customers import services
from customers.models import Customer, Interaction, JourneyStage

DEMO_USERS = [
    # username, password, role, staff (may open Django admin: the manager reads the audit log
    # there), superuser
    ("agent", "memorycrm-agent", "Agent", False, False),
    ("manager", "memorycrm-manager", "Manager", True, False),
    ("admin", "memorycrm-admin", "Admin", True, True),
]

CUSTOMERS = [
    ("Ada Lovelace", "ada@analytical.example", "Analytical Engines Ltd", "Europe/London"),
    ("Grace Hopper", "grace@cobol.example", "Compiler Works", "America/New_York"),
    ("Alan Turing", "alan@bletchley.example", "Bletchley Logistics", "Europe/London"),
    ("Katherine Johnson", "katherine@orbit.example", "Orbit Analytics", "America/New_York"),
    ("Linus Ek", "linus@nordkod.example", "Nordkod AB", "Europe/Stockholm"),
    ("Mei Tanaka", "mei@sakura-foods.example", "Sakura Foods", "Asia/Tokyo"),
    ("Jonas Weber", "jonas@weber-bau.example", "Weber Bau GmbH", "Europe/Berlin"),
    ("Amara Okafor", "amara@lagos-solar.example", "Lagos Solar", "Africa/Lagos"),
    ("Lucía Fernández", "lucia@vinos-rioja.example", "Vinos Rioja", "Europe/Madrid"),
    ("Noah Cohen", "noah@cohen-legal.example", "Cohen Legal", "Asia/Jerusalem"),
    ("Priya Raman", "priya@chennai-textiles.example", "Chennai Textiles", "Asia/Kolkata"),
    ("Oliver Brown", "oliver@brown-bikes.example", "Brown Bikes", "Europe/London"),
    ("Sofia Rossi", "sofia@rossi-design.example", "Rossi Design", "Europe/Rome"),
    ("Mateo Silva", "mateo@silva-coffee.example", "Silva Coffee", "America/Sao_Paulo"),
    ("Chloé Martin", "chloe@martin-boulangerie.example", "Boulangerie Martin", "Europe/Paris"),
    ("Ethan Walker", "ethan@walker-hvac.example", "Walker HVAC", "America/Chicago"),
]

# (stage slug, channel, direction, subject, body). A real queue is mostly routine contact:
# short questions and their answers, which no customer remembers a month later.
ROUTINE = [
    (
        "purchase",
        "email",
        "inbound",
        "Order status",
        "Hi, could you tell me when order 4471 will ship? Thanks.",
    ),
    ("purchase", "email", "outbound", "Re: Order status", "It ships tomorrow; tracking follows."),
    ("support", "email", "inbound", "Invoice copy", "Please send a copy of the March invoice."),
    ("support", "email", "outbound", "Re: Invoice copy", "Attached, with the PO number on it."),
    ("support", "chat", "inbound", "Password reset", "I can't log in, can you reset my password?"),
    ("support", "chat", "outbound", "Re: Password reset", "Done, a reset link is on its way."),
    ("delivery", "email", "inbound", "Delivery day", "Can the delivery come on Thursday instead?"),
    ("delivery", "email", "outbound", "Re: Delivery day", "Moved to Thursday, 8 to 12."),
    ("support", "email", "inbound", "Billing address", "Our billing address changes on 1 May."),
    ("support", "chat", "inbound", "Add a user", "Please add a login for our new colleague."),
    ("purchase", "email", "inbound", "Re: Order status", "Got it, thanks."),
    ("support", "email", "inbound", "VAT number", "Can you add our VAT number to invoices?"),
]

# A few charged stories, told by the customer at length: these are the moments.
STORIES = {
    # customer index: [(stage, channel, direction, subject, body), ...]
    1: [
        (
            "delivery",
            "email",
            "inbound",
            "Where is my order?",
            "The delivery is two weeks late and nobody answers the phone. We have a trade fair "
            "on Monday, I told your colleague twice, and every day I am promised it is coming. "
            "This is unacceptable and I am furious: we are going to stand there with an empty "
            "stand.",
        ),
        (
            "complaint",
            "call",
            "outbound",
            "Recovery call",
            "Apologised, refunded the shipping and sent a replacement by express courier.",
        ),
        (
            "support",
            "email",
            "inbound",
            "Thank you!",
            "Thanks so much. The replacement arrived this morning, hours before the fair opened, "
            "and your agent even called the courier himself to make sure. I was ready to leave "
            "you after last week, but this is the kind of service I will tell people about.",
        ),
    ],
    6: [
        (
            "complaint",
            "email",
            "inbound",
            "Charged twice",
            "You have charged our company card twice this month, and the second charge bounced "
            "our supplier payments. Nobody told us, there was no warning, and your billing line "
            "has had me on hold for forty minutes. I am angry and I want this fixed today, with "
            "an explanation in writing.",
        ),
        ("complaint", "email", "outbound", "Re: Charged twice", "Refunded; a letter follows."),
    ],
    11: [
        (
            "onboarding",
            "email",
            "inbound",
            "What a start",
            "I have to write this: your onboarding team moved all ten years of our records over "
            "one weekend, without a single error, and stayed on the phone with my staff until "
            "everyone could work. We expected weeks of pain. Thank you, it was wonderful and we "
            "are delighted.",
        ),
    ],
}


class Command(BaseCommand):
    help = "Create demo users (agent, manager, admin), customers and interactions. Idempotent."

    def handle(self, *args, **options) -> None:
        # One "Enqueued" line per demo interaction says nothing to a newcomer.
        logging.getLogger("django-q").setLevel(logging.WARNING)
        with transaction.atomic():
            users = self._users()
            created = self._customers(owner=users["agent"])
        self.stdout.write(self.style.SUCCESS(f"Demo data ready ({created} new interactions)."))
        self.stdout.write("Demo logins:")
        for username, password, role, *_ in DEMO_USERS:
            self.stdout.write(f"  {role:<8} {username} / {password}")

    def _users(self) -> dict:
        User = get_user_model()
        users = {}
        for username, password, role, is_staff, is_superuser in DEMO_USERS:
            user, created = User.objects.get_or_create(
                username=username,
                defaults={
                    "email": f"{username}@memorycrm.example",
                    "is_staff": is_staff,
                    "is_superuser": is_superuser,
                },
            )
            if created:
                user.set_password(password)
                user.save()
            elif (user.is_staff, user.is_superuser) != (is_staff, is_superuser):
                # A demo database seeded before the manager became staff catches up.
                user.is_staff, user.is_superuser = is_staff, is_superuser
                user.save(update_fields=["is_staff", "is_superuser"])
            user.groups.add(Group.objects.get(name=role))
            users[username] = user
        return users

    def _customers(self, *, owner) -> int:
        rng = random.Random(7)
        stages = {stage.slug: stage for stage in JourneyStage.objects.all()}
        now = timezone.now()
        new_interactions = 0
        for index, (name, email, company, tz) in enumerate(CUSTOMERS):
            ref = f"demo-{index + 1}"
            customer = Customer.objects.filter(external_ref=ref).first()
            if customer is None:
                customer = services.create_customer(
                    name=name,
                    email=email,
                    company=company,
                    timezone=tz,
                    external_ref=ref,
                    owner=owner if index % 2 == 0 else None,
                )
            start = now - timedelta(days=60 - index)
            routine = [ROUTINE[(index * 5 + k) % len(ROUTINE)] for k in range(4 + index % 3)]
            story = STORIES.get(index, [])
            # The story in the middle of the routine, as it happens.
            steps = routine[:2] + story + routine[2:]
            for step, (stage, channel, direction, subject, body) in enumerate(steps):
                interaction_ref = f"{ref}-{step + 1}"
                if Interaction.objects.filter(
                    customer=customer, external_ref=interaction_ref
                ).exists():
                    continue
                services.log_interaction(
                    customer=customer,
                    channel=channel,
                    direction=direction,
                    stage=stages.get(stage),
                    subject=subject,
                    body=body,
                    occurred_at=start + timedelta(days=step * 4, hours=rng.randint(8, 17)),
                    agent=owner,
                    external_ref=interaction_ref,
                )
                new_interactions += 1
        return new_interactions
