from datetime import timedelta

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone

from customers.models import Customer, Interaction, JourneyStage


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ["username"]
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.django.Password("pw-for-tests")

    @factory.post_generation
    def role(self, create, extracted, **kwargs):
        """UserFactory(role="Agent") puts the user in that role's group."""
        if create and extracted:
            self.groups.add(Group.objects.get(name=extracted))


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    name = factory.Faker("name")
    email = factory.Sequence(lambda n: f"customer{n}@example.com")
    company = factory.Faker("company")
    phone = factory.Faker("phone_number")


class InteractionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Interaction

    customer = factory.SubFactory(CustomerFactory)
    channel = Interaction.Channel.EMAIL
    direction = Interaction.Direction.INBOUND
    # Each one a second older than the one before (an order to sort by), and still recent after
    # the whole suite's thousands: a minute each put them days back by the time the
    # interventions' tests ran after others, and a fresh complaint read as an old one.
    occurred_at = factory.Sequence(lambda n: timezone.now() - timedelta(seconds=n))
    subject = factory.Faker("sentence", nb_words=5)
    body = factory.Faker("paragraph")
    stage = factory.LazyFunction(lambda: JourneyStage.objects.get(slug="support"))


def api_token(user) -> str:
    """A new API token for `user` (django-rest-knox: only its hash is stored), as sent in
    `Authorization: Token <token>`."""
    from knox.models import AuthToken

    return AuthToken.objects.create(user=user)[1]
