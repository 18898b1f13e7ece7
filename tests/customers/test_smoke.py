def test_pages(agent_client, customer):
    from customers.models import JourneyStage
    r = agent_client.get("/customers/?q=ada")
    assert r.status_code == 200, r.content
    assert b"Ada Lovelace" in r.content
    r = agent_client.get(f"/customers/{customer.pk}/")
    assert r.status_code == 200
    r = agent_client.post(f"/customers/{customer.pk}/interactions/", {"channel":"email","direction":"inbound","occurred_at":"2026-01-01T10:00","subject":"Hello","body":"x","stage":JourneyStage.objects.first().pk}, HTTP_HX_REQUEST="true")
    assert r.status_code == 200
    assert b"hx-swap-oob" in r.content, r.content
    r = agent_client.get("/customers/new/")
    assert r.status_code == 200
