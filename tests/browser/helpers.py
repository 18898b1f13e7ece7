"""Helpers for browser tests. The fixtures (browser, page, phone_page, page_errors) are in
tests/conftest.py so every test module shares one Chromium."""


def login(page, live_server, username: str, password: str = "pw-for-tests") -> None:
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/customers/")
