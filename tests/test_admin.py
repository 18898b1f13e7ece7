"""Every model registered in Django admin opens: changelist (with a search), add form, and the
change form of a row — the pages admins configure stages, tags, surveys and rules on."""

import pytest
from django.contrib import admin
from django.urls import reverse

pytestmark = pytest.mark.django_db

REGISTERED = sorted(
    (model._meta.app_label, model._meta.model_name) for model in admin.site._registry
)


@pytest.mark.parametrize("app_label,model_name", REGISTERED)
def test_admin_pages_open(client, admin_user, app_label, model_name):
    client.force_login(admin_user)
    changelist = reverse(f"admin:{app_label}_{model_name}_changelist")
    assert client.get(changelist).status_code == 200
    assert client.get(changelist, {"q": "x"}).status_code == 200
    model_admin = next(
        model_admin
        for model, model_admin in admin.site._registry.items()
        if (model._meta.app_label, model._meta.model_name) == (app_label, model_name)
    )
    add_allowed = model_admin.has_add_permission(client.get(changelist).wsgi_request)
    add = client.get(reverse(f"admin:{app_label}_{model_name}_add"))
    assert add.status_code == (200 if add_allowed else 403)
    first = model_admin.model._default_manager.order_by("pk").first()
    if first is not None:
        change = reverse(f"admin:{app_label}_{model_name}_change", args=[first.pk])
        assert client.get(change).status_code == 200


def test_an_agent_cannot_open_admin(agent_client):
    response = agent_client.get(reverse("admin:index"))
    assert response.status_code == 302


def _tag_form_data(tag, **changes) -> dict:
    data = {
        "category": tag.category_id,
        "name": tag.name,
        "slug": tag.slug,
        "polarity": tag.polarity,
        "weight": tag.weight,
        "colour": tag.colour,
        "description": tag.description,
        "active": "on",
        "order": tag.order,
        "rules-TOTAL_FORMS": 0,
        "rules-INITIAL_FORMS": 0,
    }
    return {**data, **changes}


def test_a_tag_weight_out_of_range_is_a_field_error_in_words(client, admin_user):
    from moments.models import MomentTag

    client.force_login(admin_user)
    tag = MomentTag.objects.order_by("pk").first()
    url = reverse("admin:moments_momenttag_change", args=[tag.pk])
    response = client.post(url, _tag_form_data(tag, weight=11))
    assert response.status_code == 200
    form = response.context["adminform"].form
    assert form.errors["weight"] == ["Ensure this value is less than or equal to 10."]
    assert "momenttag_weight_range" not in response.content.decode()
    tag.refresh_from_db()
    assert tag.weight != 11


def test_the_tag_weight_input_has_its_range(client, admin_user):
    from moments.models import MomentTag

    client.force_login(admin_user)
    tag = MomentTag.objects.order_by("pk").first()
    html = client.get(reverse("admin:moments_momenttag_change", args=[tag.pk])).content.decode()
    weight_input = next(line for line in html.split("<") if 'name="weight"' in line)
    assert 'min="0"' in weight_input and 'max="10"' in weight_input
    changelist = client.get(reverse("admin:moments_momenttag_changelist")).content.decode()
    weight_input = next(line for line in changelist.split("<") if 'name="form-0-weight"' in line)
    assert 'min="0"' in weight_input and 'max="10"' in weight_input
