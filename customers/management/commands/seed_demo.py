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

# (stage slug, channel, direction, subject, body)
STORY = [
    (
        "onboarding",
        "call",
        "outbound",
        "Welcome call",
        "Walked the customer through setup. They were excited to get started.",
    ),
    (
        "delivery",
        "email",
        "inbound",
        "Where is my order?",
        "The delivery is two weeks late and nobody answers the phone. This is unacceptable.",
    ),
    (
        "complaint",
        "chat",
        "inbound",
        "Second complaint about the late delivery",
        "I am really frustrated. I was promised a call back yesterday and nobody called.",
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
        "Thanks so much, the replacement arrived today and your agent was wonderful.",
    ),
    (
        "renewal",
        "meeting",
        "outbound",
        "Renewal review",
        "Reviewed the year together. They plan to renew and add two seats.",
    ),
]


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
            steps = STORY[: 2 + index % len(STORY)] if index % 3 else STORY
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
